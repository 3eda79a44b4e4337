"""The bridge to a user's Inngest app: node runs the app's modules with the app's own SDK.

:mod:`flowsim.sdk.node` starts ``collect.mjs`` (package data beside it, with
``ts-hooks.mjs``) and turns what it reports, or why it could not, into a
:class:`~flowsim.sdk.node.Collected` or a :class:`~flowsim.errors.ScenarioError`.
"""

"""NATS security: who may publish and subscribe what, and the credentials that say who is who.

::

    policy       pure: the permissions of a device, a partner and the central
    registry     pure: the users (public nkeys) and the changes kopsync admin makes
    render       pure: the nats-server include file (authorization block) for a registry
    credentials  making nkeys, writing a seed to its user's 0600 file
    authfile     the registry and the include file on disk (locked, atomic)
    admin        the operations: issue, revoke, register the device key, reload the server
    cli          ``kopsync admin``

The design, what each permission allows and what permissions cannot stop are in the
docstring of :mod:`central_projector.security.policy` and in ``deploy/nats/auth/README.md``.
"""

"""Roster-to-LDAP provisioning connector for Decision 2366/QĐ-BHXH.

Layers point one way (checked by ``tests/unit/test_layers.py``):

    core      model, policy, plan, units, tree, errors, acl, lockinfo, ber   (pure, no I/O)
    adapters  roster, directory, audit, settings, resources   (one external system each)
    service   service, bootstrap, check, runlock   (composition of one run)
    entry     cli, scheduler, logs, metrics, render, demo   (processes, signals, output)
"""

__version__ = "0.1.0"

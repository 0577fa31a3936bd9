"""Roster-to-LDAP provisioning connector for Decision 2366/QĐ-BHXH.

Layers point one way (checked by ``tests/unit/test_layers.py``):

    core      model, policy, plan, render, units, tree, errors   (pure, no I/O)
    adapters  roster, directory, audit, settings, resources       (one external system each)
    service   service, bootstrap                                 (composition of one run)
    entry     cli, scheduler, logs, metrics, demo                 (processes, signals, output)
"""

__version__ = "0.1.0"

"""The lab's boards: pools and leases across sessions, a device's recovery, labgrid places.

No pytest here: ``hil.plugin`` maps leases onto sessions and workers.
"""

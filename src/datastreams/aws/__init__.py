"""Access to customers' AWS accounts: assumed roles, their credentials, clients, trust policies.

The package imports nothing from botocore itself, so ``datastreams.aws.trust`` and
``datastreams.aws.roles`` stay cheap to import; ``datastreams.aws.clients`` loads it.
"""

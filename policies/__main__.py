"""The policy pack: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`.

Only this file builds the PolicyPack (which starts a gRPC server and never returns). Every rule
defaults to mandatory; a stack's config file lowers or raises that without code changes.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The analyzer runs this file with the pack directory as the working program; make `rules`
# importable whether or not the directory is already on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules import ALL_POLICIES  # type: ignore[import-not-found]

PolicyPack(name="edgefleet", policies=list(ALL_POLICIES), enforcement_level=EnforcementLevel.MANDATORY)

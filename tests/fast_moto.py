"""What a test's fresh moto account costs to set up, cut to what the test needs: every test starts moto anew, and
without this each one parses the same botocore models, the same template and makes the same RSA key again.
Nothing here changes what moto answers; it only stops repeating work whose result is the same every time."""

from __future__ import annotations

import copy
import functools
from typing import Any

import botocore.loaders
import botocore.session
from moto.cloudformation.models import Stack
from moto.kms import models as kms_models


def make_moto_setup_fast() -> None:
    """Idempotent; for tests only (one process, many short-lived moto accounts)."""
    _share_botocore_loader()
    _parse_each_template_once()
    _one_key_pair_per_key_spec()


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def _share_botocore_loader() -> None:
    """moto gives every test a new default boto3 session and PynamoDB makes one per thread and connection; each
    would parse botocore's JSON models and endpoints again (~80 ms a session). One loader serves them all, as one
    session's loader serves all its clients."""
    botocore.session.Session._register_data_loader = lambda self: self._components.lazy_register_component(
        "data_loader", _shared_loader
    )


@functools.cache
def _parsed(template: str) -> dict[str, Any]:
    parsed: dict[str, Any] = _moto_parse(template)
    return parsed


_moto_parse = Stack.parse_template


def _parse_each_template_once() -> None:
    """moto's CloudFormation parses the stack's template with PyYAML's pure-Python loader (~75 ms)."""
    Stack.parse_template = staticmethod(lambda template: copy.deepcopy(_parsed(template)))


@functools.cache
def _private_key(key_spec: str) -> Any:
    return _moto_private_key(key_spec)


_moto_private_key = kms_models.generate_private_key


def _one_key_pair_per_key_spec() -> None:
    """moto makes a 2048-bit RSA key pair for every KMS key, symmetric ones too (~50 ms each); the tests never rely on
    two keys having different pairs."""
    kms_models.generate_private_key = _private_key

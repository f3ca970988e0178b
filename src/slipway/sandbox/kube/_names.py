"""`metadata.generateName`, as apiserver's `names.SimpleNameGenerator` does it: the prefix
(cut to 58 characters) plus five random characters from `k8s.io/apimachinery/pkg/util/rand`'s
alphabet, which leaves out vowels and look-alike digits so no word is spelled by accident."""

from __future__ import annotations

import secrets

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
MAX_NAME_LENGTH = 63
# kube-apiserver retries a create whose generated name is taken (RetryGenerateName, GA in
# 1.31) up to this many attempts in all before answering 500 ServerTimeout.
ATTEMPTS = 8


def generate(prefix: str) -> str:
    base = prefix[: MAX_NAME_LENGTH - RANDOM_LENGTH]
    return base + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))

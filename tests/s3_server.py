"""A real S3-compatible server for the object-store tests (fixtures every test folder gets through
``tests/conftest.py``): moto's server mode on 127.0.0.1 and a free port, started and stopped by the
``s3`` fixtures. Its first requests (no credentials needed
then) make a user with an access key; from then on the server checks every request's signature,
so wrong credentials are refused as by a real store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    pytest.importorskip("moto")
    with running_server() as server:
        yield server


@contextmanager
def running_server() -> Iterator[S3Server]:
    """moto's server on 127.0.0.1 and a free port, with a user whose keys it checks; stopped at the end."""
    import boto3

    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3", "MOTO_ALLOW_NONEXISTENT_REGION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the moto server did not start")
            time.sleep(0.2)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="curate")
        key = iam.create_access_key(UserName="curate")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="curate", PolicyName="everything", PolicyDocument=json.dumps(policy))
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def settings(server: S3Server) -> dict[str, str]:
    """The ``AWS_*`` variables that reach ``server``."""
    return {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def create_bucket(server: S3Server) -> str:
    """A new empty bucket on ``server``: ``s3://bucket``."""
    import pyarrow.fs as pafs

    bucket = f"curate-{uuid.uuid4().hex[:12]}"
    store = pafs.S3FileSystem(
        access_key=server.access_key,
        secret_key=server.secret_key,
        region="us-east-1",
        endpoint_override=server.endpoint.removeprefix("http://"),
        scheme="http",
        allow_bucket_creation=True,
    )
    store.create_dir(bucket)
    return f"s3://{bucket}"


def new_bucket(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty bucket on ``server``, with the AWS_* settings pointing at it (set through
    ``monkeypatch``); returns ``s3://bucket``."""
    for name, value in settings(server).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    return create_bucket(server)


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty bucket on the server, with the AWS_* settings pointing at it: ``s3://bucket``."""
    return new_bucket(s3_server, monkeypatch)

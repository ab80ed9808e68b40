import pytest
from rest_framework.test import APIClient

from tests import factories

WRITE = "evaluations.add_evaluation"
RUN_JOBS = "evaluations.change_evaluation"
CREATE_CATALOG = ("evaluations.add_benchmark", "evaluations.add_metric")


def client_for(user=None) -> APIClient:
    """An API client sending a token of `user`; anonymous without one."""
    client = APIClient()
    if user is not None:
        _, key = factories.api_token(owner=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def reader() -> APIClient:
    return client_for(factories.user(username="reader"))


@pytest.fixture
def writer() -> APIClient:
    return client_for(factories.user(username="writer", perms=(WRITE,)))


@pytest.fixture
def creator() -> APIClient:
    return client_for(factories.user(username="creator", perms=(WRITE, *CREATE_CATALOG)))


@pytest.fixture
def worker() -> APIClient:
    return client_for(factories.user(username="worker", perms=(RUN_JOBS,)))


@pytest.fixture
def staff() -> APIClient:
    return client_for(factories.user(username="staff", is_staff=True))

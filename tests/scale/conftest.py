"""Fixtures for the scale-out tests: a fresh PostgreSQL database, Redis, nodes, nginx."""

import pytest

from tests.support import services
from tests.support.cluster import Cluster, Nginx


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database with a random name, dropped after the test."""
    services.require(services.postgres_problem(), "PostgreSQL")
    with services.fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_url():
    services.require(services.redis_problem(), "Redis")
    return services.REDIS_URL


@pytest.fixture
def cluster(tmp_path, pg_url, redis_url):
    """Server processes sharing the fresh database and one Redis channel; all stopped after."""
    c = Cluster(tmp_path, pg_url, redis_url)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def shared_cluster(request, tmp_path_factory):
    """Two nodes shared by a module's tests, for tests whose users are their own: each does not pay
    a fresh database and two node starts (about 10 s on a loaded 2-core machine). The nodes run with
    the module's `SHARED_CLUSTER_ENV`, if it declares one."""
    services.require(services.postgres_problem(), "PostgreSQL")
    services.require(services.redis_problem(), "Redis")
    with services.fresh_postgres_database() as url:
        c = Cluster(tmp_path_factory.mktemp("cluster"), url, services.REDIS_URL)
        try:
            c.start(2, env=getattr(request.module, "SHARED_CLUSTER_ENV", None))
            yield c
        finally:
            c.stop()


@pytest.fixture
def nginx(tmp_path):
    """Start nginx in front of given upstreams ("host:port"); stopped after the test."""
    binary = services.nginx_binary()
    services.require(None if binary else "no nginx binary on PATH", "nginx")
    started = []

    def start(upstreams):
        proxy = Nginx(binary, tmp_path / f"nginx{len(started)}", upstreams).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()

import pytest
from tests.viewer.support import get
def test_smoke(viewer, archive):
    print(viewer.banner)
    a = get(viewer.base + "/api/records", viewer.token)
    print(a.status, a.body[:600])
    print(get(viewer.base + "/api/tables", viewer.token).body[:600])
    print(get(viewer.base + "/api/runs", viewer.token).body[:600])
    print(get(viewer.base + "/api/records").status)
    i = get(viewer.url)
    print(i.status, i.headers)

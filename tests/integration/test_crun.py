"""Memory accounting under ubcd with crun driven directly (`crun run --bundle`), the bundle
patched by `ubc-hook patch`. The cases live in memory_cases.py; each is one meson test
named crun_<case>."""

import memory_cases

RUNTIME = "crun"


def _bind(name):
    case = getattr(memory_cases, name)

    def test():
        case(RUNTIME)

    test.__name__ = "test_" + name
    test.__doc__ = case.__doc__
    return test


for _name in memory_cases.CASES:
    globals()["test_" + _name] = _bind(_name)

import pytest

from gitops_promoter.domain.templating import TemplateError, render_args


def test_render_args():
    q = 'sum(rate(x{service="{{args.service-name}}", ns="{{ args.ns }}"}[1m]))'
    assert render_args(q, {"service-name": "web-canary", "ns": "shop"}) == \
        'sum(rate(x{service="web-canary", ns="shop"}[1m]))'


def test_missing_arg_is_an_error():
    with pytest.raises(TemplateError, match=r"\{\{args.svc\}\} but no such argument is given \(args: ns\)"):
        render_args("{{args.svc}}", {"ns": "x"})

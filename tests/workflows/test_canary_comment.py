"""An undecided gate in a pull-request environment is said once on the PR that brought it."""

from gitops_promoter.ports import PullRequest
from gitops_promoter.workflows.canary import Canary, _tell_the_pr


class Host:
    def __init__(self):
        self.said = {}

    def pulls(self, *, head_branch, state):
        assert head_branch == "promoter/staging/web"
        pr = dict(state="closed", head_ref=head_branch, head_sha="h", base_ref="main", title="t", body="",
                  author="bot", url="u")
        return [PullRequest(number=3, merged=True, **pr), PullRequest(number=7, merged=True, **pr),
                PullRequest(number=9, merged=False, **pr)]

    def comments(self, number):
        return self.said.get(number, [])

    def comment(self, number, text):
        self.said.setdefault(number, []).append(text)


def test_said_once_on_the_latest_merged_pr():
    from types import SimpleNamespace

    host = Host()
    c = Canary(SimpleNamespace(name="web"), "staging", None, None, None, None, None, host)
    for _ in range(3):
        _tell_the_pr(c, "v1.1.0", 1, "gate 1: Inconclusive: ...")
    assert list(host.said) == [7] and len(host.said[7]) == 1
    assert host.said[7][0].startswith("The canary of v1.1.0 in staging is undecided at gate 1: Inconclusive")

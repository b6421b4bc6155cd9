"""What the canary driver does next for one release, from what git and the cluster say.

Pure: the workflow gathers the facts (the release from git trailers, the canary steps in git,
whether Argo CD runs the release commit, the Rollout's status) and acts on the decision:
analyse a gate, advance it, revert the release, or wait — always with a reason. (Gates are armed
again by the next release's bump commit, never by a commit of their own.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitops_promoter.domain.history import Release
from gitops_promoter.domain.rollout import Step, with_unit

PAUSE_REASON = "CanaryPauseStep"
INCONCLUSIVE = "InconclusiveAnalysisRun"  # the Rollout's own (in-cluster) analysis paused it


@dataclass(frozen=True)
class RolloutView:
    """The Argo Rollout's status, as the cluster reports it."""

    phase: str | None  # Progressing | Paused | Healthy | Degraded
    step_index: int | None
    paused_at_step: bool  # pauseConditions holds a CanaryPauseStep
    aborted: bool
    generation: int
    observed_generation: int
    images: tuple[str, ...]
    message: str = ""
    pause_reasons: tuple[str, ...] = ()  # every status.pauseConditions[].reason
    controller_pause: bool = False  # status.controllerPause: the controller paused it (a step or its analysis)

    def runs(self, tag: str) -> bool:
        return any(image.split("@")[0].rsplit(":", 1)[-1] == tag for image in self.images)


@dataclass(frozen=True)
class Decision:
    action: str  # wait | analyse | revert | done
    reason: str
    step: int | None = None


def decide(*, release: Release | None, steps: Sequence[Step], synced: bool, rollout: RolloutView,
           git_tag: str | None = None) -> Decision:
    """`git_tag` is what the environment's file says runs now (None: not known)."""
    if release is None:
        return Decision("done", "no release of the promoter's is in progress here")
    if git_tag is not None and git_tag != release.tag:
        return Decision("done", f"git now says {git_tag}, not the promoter's {release.tag}: a person's choice, "
                                "which the promoter does not drive or fight")
    if rollout.aborted or rollout.phase == "Degraded":
        # Argo's status.message names the condition: "RolloutAborted: Rollout aborted update to
        # revision 2: <AnalysisRun message>" or "ProgressDeadlineExceeded: ReplicaSet ... has timed out
        # progressing." (argo-rollouts utils/rollout/rolloututil.go CalculateRolloutPhase).
        state = f"{rollout.phase or 'aborted'}: {rollout.message}" if rollout.message else \
            (rollout.phase or "aborted")
        # Blame only the release whose spec it is: Argo CD applied it, the controller observed it,
        # its template runs the release's tag. An abort left from an earlier release (a new
        # template clears it in Argo Rollouts) never reverts or rejects a newer tag.
        if synced and rollout.observed_generation >= rollout.generation and rollout.runs(release.tag):
            return Decision("revert", f"the Rollout is {state}; git must say what runs")
        return Decision("wait", f"the Rollout's {state} is from an earlier spec; waiting for Argo CD to apply "
                                f"{release.tag}")
    if not synced:
        return Decision("wait", "Argo CD does not run the release commit yet")
    if rollout.observed_generation < rollout.generation:
        return Decision("wait", "the Rollout controller has not observed the latest spec yet")
    if not rollout.runs(release.tag):
        return Decision("wait", f"the Rollout does not run {release.tag} yet")
    if rollout.phase == "Healthy" and (rollout.step_index is None or rollout.step_index >= len(steps)):
        return Decision("done", f"{release.tag} completed")
    index = rollout.step_index
    if INCONCLUSIVE in rollout.pause_reasons:
        return Decision("wait", "the Rollout paused itself: its own AnalysisRun was inconclusive "
                                f"({INCONCLUSIVE}); a person resumes or aborts it in Argo Rollouts")
    if rollout.paused_at_step and index is not None and index < len(steps):
        step = steps[index]
        if step.is_gate:
            undone = release.undone_at(index)
            if undone is not None:
                return Decision("wait", f"a person reverted the promoter's pass of gate {index} for {release.tag} "
                                        f"in {undone[:10]}; the promoter does not pass it again (a person decides)",
                                step=index)
            return Decision("analyse", f"the canary waits at gate {index}", step=index)
        if index in release.advanced_steps:
            return Decision("wait", f"gate {index} is advanced in git; waiting for the Rollout to resume")
        return Decision("wait", f"the canary pauses at step {index} for {with_unit(step.duration or '')}")
    where = f"step {index}" if index is not None else "an unknown step"
    return Decision("wait", f"the canary is at {where} ({rollout.phase or 'unknown phase'})")


def unhealthy(view: RolloutView, *, tag: str, steps: int) -> str | None:
    """Why the Rollout is not (yet) healthy on `tag` — all its steps walked, gates passed — or None.
    A status the controller wrote before it saw the latest spec says nothing of that spec: right
    after Argo CD applies a new image the Rollout still reads Healthy at its last step, from the
    previous release (argo-rollouts utils/rollout/rolloututil.go GetRolloutPhase checks
    isGenerationObserved first: "waiting for rollout spec update to be observed")."""
    if view.observed_generation < view.generation:
        return (f"its controller has not observed the latest spec yet (generation {view.generation}, "
                f"observed {view.observed_generation})")
    if view.aborted or view.phase == "Degraded":
        return f"the Rollout is {view.phase or 'aborted'}" + (f": {view.message}" if view.message else "")
    if not view.runs(tag):
        return f"the Rollout does not run {tag}"
    if view.phase != "Healthy" or (view.step_index is not None and view.step_index < steps):
        where = f"step {view.step_index}" if view.step_index is not None else "an unknown step"
        if view.paused_at_step:  # simply paused (a gate, a timed pause): nothing is wrong with it
            return f"it is paused at {where}"
        return f"it is at {where} ({view.phase or 'unknown phase'})"
    return None

"""What an alert says: what happened, to which weeks, in which run, and the link to it; as an email and as
Slack-compatible JSON. Plain data and text: finding what to alert on reads Dagster's instance (`alerts.py`),
sending it is a resource (`resources/alerts.py`).
"""

from dataclasses import asdict, dataclass, field
from email.message import EmailMessage

# The kinds of alert, each a title that says what happened (the runbook, docs/operations.md, has one section each).
KINDS = {
    "run_failed": "a run failed after its retries",
    "model_not_promoted": "a retrained model was not promoted",
    "weeks_given_up": "the Socrata sensor gave up on weeks",
    "check_failed": "a blocking check failed",
    "drift": "scores drifted for a sizeable group",
    "late": "a week is late",
    "source_stale": "Socrata's data is stale",
}


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    key: str  # what makes it this alert and no other: the same key is never sent twice
    summary: str  # one line: what happened
    detail: str = ""  # the rest: the failure's message, the check's numbers
    weeks: list[str] = field(default_factory=list)  # the weeks it concerns (partition keys)
    run_id: str | None = None
    job: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}: one of {', '.join(KINDS)}")

    @property
    def title(self) -> str:
        return f"[chicago-food] {KINDS[self.kind]}: {self.summary}"

    def link(self, ui_url: str) -> str:
        """The run in the Dagster UI (or the UI's overview when there is no run)."""
        base = ui_url.rstrip("/")
        return f"{base}/runs/{self.run_id}" if self.run_id else f"{base}/overview"

    def text(self, ui_url: str) -> str:
        lines = [self.title, ""]
        if self.weeks:
            lines.append(f"weeks: {describe_weeks(self.weeks)}")
        if self.job:
            lines.append(f"job: {self.job}")
        if self.run_id:
            lines.append(f"run: {self.run_id}")
        lines.append(f"link: {self.link(ui_url)}")
        if self.detail:
            lines += ["", self.detail]
        lines += ["", "What to do: docs/operations.md, section " + repr(KINDS[self.kind]) + "."]
        return "\n".join(lines)

    def email(self, sender: str, recipients: list[str], ui_url: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.title
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["X-Chicago-Food-Alert"] = self.key
        message.set_content(self.text(ui_url))
        return message

    def slack(self, ui_url: str) -> dict:
        """A Slack incoming-webhook payload (`text` for any receiver, `blocks` for Slack itself)."""
        facts = [f"*weeks:* {describe_weeks(self.weeks)}"] if self.weeks else []
        facts += [f"*job:* {self.job}"] if self.job else []
        facts += [f"*run:* <{self.link(ui_url)}|{self.run_id}>"] if self.run_id else []
        blocks: list[dict] = [
            {"type": "header", "text": {"type": "plain_text", "text": KINDS[self.kind][:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": self.summary}},
        ]
        if facts:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}})
        if self.detail:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{self.detail[:2900]}```"}})
        return {"text": f"{self.title} {self.link(ui_url)}", "blocks": blocks, "alert": self.to_json()}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Alert":
        return cls(**data)


def describe_weeks(weeks: list[str]) -> str:
    """A list of week keys, short: one week, a range, or the first few and a count."""
    ordered = sorted(set(weeks))
    if len(ordered) <= 3:
        return ", ".join(ordered)
    return f"{ordered[0]} .. {ordered[-1]} ({len(ordered)} weeks)"

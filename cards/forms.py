from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from cards.models import LEECH_LAPSES, MATURE_DAYS, Topic
from cards.rendering import MAX_TEXT, math_problems


def _check_math(text: str) -> str:
    """The one math check the editor's preview and the importers use (rendering)."""
    if problems := math_problems(text):
        raise forms.ValidationError(f"This math does not typeset: {problems[0]}")
    return text


class CardEditForm(forms.Form):
    front = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=MAX_TEXT,
        help_text="Markdown; math between $…$ or $$…$$.",
    )
    back = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), max_length=MAX_TEXT)
    tags = forms.CharField(
        required=False, max_length=400, help_text="Separated by spaces or commas."
    )

    def clean_front(self) -> str:
        return _check_math(self.cleaned_data["front"])

    def clean_back(self) -> str:
        return _check_math(self.cleaned_data["back"])


# --- Authoring, the card browser, import ----------------------------------------------


class CardForm(CardEditForm):
    """A person's own card: CardEditForm's text, plus its topic (or a new one)."""

    topic = forms.ModelChoiceField(queryset=Topic.objects.none(), required=False)
    new_topic = forms.CharField(
        required=False, max_length=120, label="…or a new topic", help_text="Created with the card."
    )
    field_order = ["topic", "new_topic", "front", "back", "tags"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = Topic.objects.visible_to(user)  # type: ignore[attr-defined]
        self.fields["topic"].empty_label = "Choose a topic"  # type: ignore[attr-defined]
        self.fields["back"].help_text = "Markdown; math between $…$ or $$…$$."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["new_topic"] = (cleaned.get("new_topic") or "").strip()
        if not cleaned.get("topic") and not cleaned["new_topic"]:
            self.add_error("topic", "Choose a topic, or name a new one.")
        return cleaned


class TopicForm(forms.Form):
    title = forms.CharField(max_length=120)
    summary = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


STATE_CHOICES = [
    ("", "Any state"),
    ("new", "New"),
    ("learning", "Learning"),
    ("mature", f"Mature ({MATURE_DAYS} days or more)"),
    ("suspended", "Suspended"),
    ("leech", f"Leeches (failed {LEECH_LAPSES} times or more)"),
]
OWNER_CHOICES = [("", "All cards"), ("mine", "My cards"), ("builtin", "Built-in deck")]
SORT_CHOICES = [("deck", "Deck order"), ("due", "Due date"), ("new", "Newest first")]


class BrowseForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.none(), required=False, empty_label="All topics"
    )
    tag = forms.CharField(required=False, max_length=60)
    state = forms.ChoiceField(choices=STATE_CHOICES, required=False)
    owner = forms.ChoiceField(choices=OWNER_CHOICES, required=False, label="Whose")
    due_from = forms.DateField(
        required=False, label="Due from", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = forms.DateField(
        required=False, label="Due by", widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def __init__(self, *args: Any, topics: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = topics  # type: ignore[attr-defined]


BULK_ACTIONS = [
    ("suspend", "Suspend"),
    ("unsuspend", "Unsuspend"),
    ("retag", "Change tags"),
    ("move", "Move to topic"),
    ("reset", "Reset schedule"),
    ("delete", "Delete"),
]


class CardIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return [int(item) for item in value or []]
        except (TypeError, ValueError):
            raise forms.ValidationError("Those cards were not understood.") from None


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    ids = CardIdsField(required=False)
    everything = forms.BooleanField(required=False)
    add_tags = forms.CharField(required=False, max_length=400)
    remove_tags = forms.CharField(required=False, max_length=400)
    move_to = forms.ModelChoiceField(queryset=Topic.objects.none(), required=False)
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args: Any, topics: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["move_to"].queryset = topics  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        if not cleaned.get("ids") and not cleaned.get("everything"):
            raise forms.ValidationError("Select some cards first.")
        if action == "move" and not cleaned.get("move_to"):
            self.add_error("move_to", "Choose the topic to move the cards to.")
        if action == "retag" and not (cleaned.get("add_tags") or cleaned.get("remove_tags")):
            self.add_error("add_tags", "Name tags to add or remove.")
        return cleaned


class ImportForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,  # the importer says "The file is empty." itself
        help_text="CSV or TSV (front, back, tags, topic), a Markdown deck file (.md), or an "
        "Anki package (.apkg).",
    )
    default_topic = forms.CharField(
        required=False,
        max_length=120,
        label="Topic for cards that name none",
        help_text="Leave empty to use the file's name.",
    )

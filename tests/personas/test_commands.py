import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from audiences.models import Audience, PreferenceSnapshot
from personas.models import Generation, Persona
from tests.llm_server import Reply

# Commands commit for real (tasks are dispatched on commit, and --wait polls for their results),
# so these tests run outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

PERSONA_DOCUMENT_KEYS = {
    "id",
    "audience",
    "status",
    "summary",
    "profile",
    "hashtags",
    "age_groups",
    "gender",
    "tags",
    "provenance",
    "revision",
    "published_at",
}


def call(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


@pytest.fixture
def sample_audiences():
    call("demo", "--no-generate")
    return Audience.objects.all()


def test_import_preferences_reports_what_it_stored(tmp_path):
    path = tmp_path / "prefs.csv"
    path.write_text(
        "audience_key,audience_name,app,score,share,rank\nspotify,Spotify 使用者,KKBOX,3.2,0.41,1\n"
    )

    first = call("import_preferences", str(path))
    second = call("import_preferences", str(path))

    assert "1 new snapshot(s)" in first and "1 new audience(s)" in first
    assert "0 new snapshot(s), 1 unchanged" in second
    assert "1 app(s) not in the catalog" in first
    assert PreferenceSnapshot.objects.count() == 1


def test_import_preferences_fails_with_the_line_and_imports_nothing(tmp_path):
    path = tmp_path / "prefs.csv"
    path.write_text(
        "audience_key,audience_name,app,score,share,rank\n"
        "spotify,Spotify 使用者,KKBOX,3.2,0.41,1\n"
        "spotify,Spotify 使用者,Netflix,1.6,2,2\n"
    )

    with pytest.raises(CommandError, match="line 3: share 2 must be between 0 and 1"):
        call("import_preferences", str(path))
    assert not PreferenceSnapshot.objects.exists()


def test_import_preferences_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call("import_preferences", str(tmp_path / "nope.csv"))


def test_demo_loads_the_sample_data_creates_users_and_drafts_personas():
    out = call("demo")

    assert Audience.objects.count() >= 30
    drafted = Persona.objects.filter(status="draft", backend="offline")
    assert drafted.values("audience").distinct().count() == Audience.objects.count()
    users = get_user_model().objects.filter(username__in=["analyst", "manager"])
    assert sorted(u.username for u in users) == ["analyst", "manager"]
    assert all(u.check_password("demo") for u in users)
    assert "analyst" in out and "'demo'" in out and "/accounts/login/" in out

    again = call("demo")
    assert Persona.objects.count() == drafted.count()  # cached: no duplicate drafts
    assert f"{Audience.objects.count()} succeeded" in again


def test_generate_personas_with_openai_waits_and_summarises(
    sample_audiences, openai_settings, llm_server
):
    out = call("generate_personas", "--all", "--wait", "--backend", "openai")

    count = sample_audiences.count()
    assert len(llm_server.chat_requests) == count
    assert f"Succeeded: {count} (0 from cache), failed: 0" in out
    assert f"{count}/{count} finished" in out
    assert "Cost: $" in out and "Tokens:" in out


def test_generate_personas_exits_non_zero_and_names_each_failure(
    sample_audiences, openai_settings, llm_server
):
    llm_server.enqueue(Reply('{"profile": "truncated'))

    with pytest.raises(CommandError, match="1 generation\\(s\\) failed"):
        call("generate_personas", "--audience", "spotify", "kkbox", "--wait", "--backend", "openai")
    failed = Generation.objects.get(status="failed")
    assert failed.error_code


def test_generate_personas_rejects_unknown_audiences_and_prompts(sample_audiences):
    with pytest.raises(CommandError, match="Unknown audience\\(s\\): nobody"):
        call("generate_personas", "--audience", "spotify", "nobody")
    with pytest.raises(CommandError, match="has no version 9"):
        call("generate_personas", "--all", "--prompt", "audience-persona@9")
    with pytest.raises(CommandError, match="no label 'canary'"):
        call("generate_personas", "--all", "--prompt", "audience-persona:canary")


def test_generate_personas_can_use_the_proof_of_concept_prompt(sample_audiences):
    out = call(
        "generate_personas", "--audience", "spotify", "--prompt", "audience-persona@1", "--wait"
    )

    assert "Succeeded: 1" in out
    assert Persona.objects.get().prompt_version.number == 1


def test_export_personas_prints_persona_documents(sample_audiences, openai_settings, llm_server):
    call("generate_personas", "--all", "--wait", "--backend", "openai")

    documents = json.loads(call("export_personas", "--format", "json"))

    assert len(documents) == sample_audiences.count()
    for document in documents:
        assert set(document) == PERSONA_DOCUMENT_KEYS
        assert sum(document["age_groups"].values()) == 100
        assert sum(document["gender"].values()) == 100
        assert set(document["profile"]) == {
            "basic_attributes",
            "personality",
            "mental_state",
            "interests",
            "lifestyle",
        }
        assert document["provenance"]["backend"] == "openai"
        assert document["provenance"]["prompt"] == "audience-persona"
        assert document["provenance"]["prompt_version"] == 2
        assert document["status"] == "draft" and document["published_at"] is None


def test_export_personas_filters_and_writes_csv(sample_audiences):
    call("generate_personas", "--audience", "spotify", "klook", "--wait")

    rows = call("export_personas", "--audience", "spotify", "--format", "csv").splitlines()

    assert rows[0].startswith("id,audience_key,audience_name,status,summary")
    assert len(rows) == 2 and ",spotify," in rows[1]
    assert json.loads(call("export_personas", "--status", "published")) == []
    with pytest.raises(CommandError, match="No personas for audience"):
        call("export_personas", "--audience", "nobody")


def test_waiting_with_no_worker_says_so_and_fails_when_time_runs_out(sample_audiences, monkeypatch):
    # As if a broker took the messages and no worker were running to pick them up.
    monkeypatch.setattr("personas.services._dispatch", lambda ids: None)
    monkeypatch.setattr("personas.management.commands.generate_personas.NO_PROGRESS_HINT_S", 0.2)
    out = StringIO()

    with pytest.raises(CommandError, match="0 generation\\(s\\) failed and 1 did not finish"):
        call_command(
            "generate_personas", "--audience", "spotify", "--wait", "--timeout", "1", stdout=out
        )
    assert "is a worker running?" in out.getvalue()
    assert "0/1 finished" in out.getvalue()

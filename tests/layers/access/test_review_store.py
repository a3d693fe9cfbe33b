"""Review and retention on SQLite and PostgreSQL: the queue rule, decisions, erase, purge."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from layers import errors
from layers.access import review_store as review
from layers.access.review_store import ReviewError, ReviewStateError
from layers.hotspots.inputs import load_score_inputs
from layers.records import read as records_read
from layers.store import audit, schema
from layers.store.engine import Store, utcnow

TODAY = dt.date(2025, 7, 1)
NOW = dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)


def add_place(conn: sa.Connection, source_id: str, *, level: int = 3, status: str = "open",
              review_due: dt.date | None = None, assessed_on: dt.date | None = None,
              created: dt.datetime = NOW, erased_at: dt.datetime | None = None) -> int:
    """Insert one place (with its first level in the history); return its store id."""
    place_id = conn.execute(sa.insert(schema.places).values(
        source_id=source_id, name=f"Place {source_id}", category="shop", mace_level=level,
        status=status, review_due=review_due, assessed_on=assessed_on, lat=54.57, lng=-1.32,
        h3_cell="89194e6d2cbffff", created_at=created, updated_at=created,
        erased_at=erased_at, erased_by="someone" if erased_at else None)
    ).inserted_primary_key[0]
    conn.execute(sa.insert(schema.place_levels).values(
        place_id=place_id, changed_on=dt.date(2024, 1, 1), from_level=None, to_level=level,
        reason="first recorded", recorded_at=created))
    return int(place_id)


def add_reports(conn: sa.Connection, place_id: int, key: str, n: int = 2) -> None:
    """``n`` reports and one activity naming the place."""
    for i in range(n):
        conn.execute(sa.insert(schema.reports).values(
            source_id=f"{key}-R{i}", reported_on=dt.date(2025, 6, 1), place_id=place_id,
            located_by="place", lat=54.57, lng=-1.32, mace_level=3, created_at=NOW,
            updated_at=NOW))
    conn.execute(sa.insert(schema.activities).values(
        source_id=f"{key}-A", activity_type="street_patrol", started_at=dt.datetime(2025, 6, 2),
        place_id=place_id, located_by="place", created_at=NOW, updated_at=NOW))


def place_row(store: Store, source_id: str) -> sa.RowMapping | None:
    t = schema.places
    with store.connect() as conn:
        return conn.execute(sa.select(t).where(t.c.source_id == source_id)).mappings().first()


def audit_rows(store: Store, action: str):
    with store.connect() as conn:
        return audit.query(conn, action=action)


def test_queue_rule(store: Store) -> None:
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with store.begin() as conn:
        add_place(conn, "A", review_due=dt.date(2025, 6, 1))
        add_place(conn, "B", review_due=TODAY)  # due today: in
        add_place(conn, "C", review_due=dt.date(2025, 8, 1), assessed_on=dt.date(2020, 1, 1))
        add_place(conn, "D", assessed_on=dt.date(2024, 5, 1))  # no date, assessed > 1 year
        add_place(conn, "E", assessed_on=dt.date(2025, 1, 1))
        add_place(conn, "F", created=old)  # never assessed, stored > 1 year ago
        add_place(conn, "G", created=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
        add_place(conn, "H", status="closed", review_due=dt.date(2025, 1, 1))
        add_place(conn, "I", status="closed", review_due=dt.date(2025, 1, 1), erased_at=NOW)
        add_place(conn, "J", status="monitoring", review_due=dt.date(2024, 12, 1))
    with store.connect() as conn:
        queue = review.review_queue(conn, today=TODAY)
    assert queue["source_id"].tolist() == ["J", "F", "D", "A", "B"]
    assert queue["due_from"].tolist() == ["review_due", "created_at", "assessed_on",
                                          "review_due", "review_due"]
    assert queue["due"].tolist() == [dt.date(2024, 12, 1), dt.date(2025, 1, 1),
                                     dt.date(2025, 5, 1), dt.date(2025, 6, 1), TODAY]
    assert queue["days_overdue"].tolist() == [212, 181, 61, 30, 0]
    assert list(queue.columns) == list(review.QUEUE_COLUMNS)


def test_retain_needs_a_reason_and_sets_the_next_review(store: Store) -> None:
    with store.begin() as conn:
        add_place(conn, "P", review_due=dt.date(2025, 6, 1))
    with pytest.raises(ReviewError, match="reason"):
        review.decide(store, "P", decision="retain", reason="  ", user="ann", today=TODAY)
    done = review.decide(store, "P", decision="retain", reason="still active", user="ann",
                         role="analyst", client="127.0.0.1", today=TODAY)
    assert done["review_due"] == dt.date(2026, 1, 1) == done["next_review_due"]
    assert place_row(store, "P")["review_due"] == dt.date(2026, 1, 1)
    review.decide(store, "P", decision="retain", reason="again", user="ann", today=TODAY,
                  next_review_due=dt.date(2025, 9, 1))
    assert place_row(store, "P")["review_due"] == dt.date(2025, 9, 1)
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.place_reviews)
                            .order_by(schema.place_reviews.c.id)).mappings().all()
        assert review.review_queue(conn, today=TODAY).empty
    assert [(r["decision"], r["decided_by"], r["reason"]) for r in rows] == [
        ("retain", "ann", "still active"), ("retain", "ann", "again")]
    logged = audit_rows(store, "review")
    assert len(logged) == 2 and set(logged["object_ids"]) == {"P"}
    assert "still active" not in " ".join(logged["detail"])  # reasons stay out of the log


def test_lower_records_the_level_change(store: Store) -> None:
    with store.begin() as conn:
        add_place(conn, "P", level=4, review_due=dt.date(2025, 6, 1))
    done = review.decide(store, "P", decision="lower", new_level=2, reason="visits worked",
                         user="ann", today=TODAY)
    assert done["mace_level"] == 2 and done["new_level"] == 2
    row = place_row(store, "P")
    assert row["mace_level"] == 2 and row["review_due"] == dt.date(2026, 1, 1)
    with store.connect() as conn:
        lv = schema.place_levels
        history = conn.execute(sa.select(lv.c.changed_on, lv.c.from_level, lv.c.to_level,
                                         lv.c.reason).where(lv.c.place_id == row["id"])
                               .order_by(lv.c.id)).all()
    assert [tuple(h) for h in history][-1] == (TODAY, 4, 2, "visits worked")
    assert "level 4->2" in audit_rows(store, "review")["detail"].iloc[0]


@pytest.mark.parametrize("level", [2, 3])
def test_lower_refuses_a_level_not_below_the_current_one(store: Store, level: int) -> None:
    with store.begin() as conn:
        add_place(conn, "P", level=2)
    with pytest.raises(ReviewError, match="not below the current level 2"):
        review.decide(store, "P", decision="lower", new_level=level, user="ann", today=TODAY)
    assert place_row(store, "P")["mace_level"] == 2
    with store.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.place_reviews)) == 0
    assert audit_rows(store, "review").empty


def test_close_takes_the_place_off_the_queue(store: Store) -> None:
    with store.begin() as conn:
        add_place(conn, "P", review_due=dt.date(2025, 6, 1))
    done = review.decide(store, "P", decision="close", user="ann", today=TODAY)
    assert done["status"] == "closed" and done["next_review_due"] is None
    with store.connect() as conn:
        assert review.review_queue(conn, today=TODAY).empty
        assert review.closed_places(conn)["source_id"].tolist() == ["P"]
    with pytest.raises(ReviewStateError, match="closed"):
        review.decide(store, "P", decision="retain", reason="x", user="ann", today=TODAY)


@pytest.mark.parametrize(("values", "field"), [
    ({"decision": "keep"}, "decision"),
    ({"decision": "lower"}, "new_level"),
    ({"decision": "retain", "reason": "x", "new_level": 2}, "new_level"),
    ({"decision": "lower", "new_level": 5}, "new_level"),
    ({"decision": "close", "next_review_due": dt.date(2026, 1, 1)}, "next_review_due"),
    ({"decision": "retain", "reason": "x", "next_review_due": TODAY}, "next_review_due"),
])
def test_bad_decisions_are_refused_naming_the_field(values: dict, field: str) -> None:
    args = {"reason": None, "new_level": None, "next_review_due": None, **values}
    decision = args.pop("decision")
    with pytest.raises(ReviewError, match=f"^{field}"):
        review.check_decision(decision, today=TODAY, **args)


def test_unknown_place_is_not_found(store: Store) -> None:
    with pytest.raises(errors.NotFoundError):
        review.decide(store, "nope", decision="close", user="ann", today=TODAY)
    with pytest.raises(errors.NotFoundError):
        review.erase(store, "nope", user="ann")


def test_erase_refuses_a_place_not_closed(store: Store) -> None:
    with store.begin() as conn:
        add_place(conn, "P", status="monitoring")
    with pytest.raises(ReviewStateError, match="monitoring, not closed"):
        review.erase(store, "P", user="ann")
    assert place_row(store, "P")["erased_at"] is None
    assert audit_rows(store, "erase").empty


def test_erased_place_vanishes_from_reads(store: Store) -> None:
    with store.begin() as conn:
        keep = add_place(conn, "K")
        gone = add_place(conn, "P", status="closed")
        add_reports(conn, gone, "P")
    erased_at = review.erase(store, "P", user="ann", role="analyst")
    row = place_row(store, "P")
    assert row["erased_by"] == "ann" and row["erased_at"] is not None
    assert abs(erased_at - utcnow()) < dt.timedelta(minutes=1)
    with store.connect() as conn:
        assert records_read.places(conn).rows["source_id"].tolist() == ["K"]
        with pytest.raises(errors.NotFoundError):
            records_read.place_detail(conn, "P")
        with pytest.raises(errors.NotFoundError):
            records_read.place_notes(conn, "P")
        inputs = load_score_inputs(conn, as_of=TODAY, known_by=utcnow())
        assert inputs.places["id"].tolist() == [keep]
        assert set(inputs.history["place_id"]) == {keep}
        assert review.closed_places(conn).empty
    with pytest.raises(errors.NotFoundError):  # erased already: gone
        review.erase(store, "P", user="ann")
    assert audit_rows(store, "erase")["object_ids"].tolist() == ["P"]


def test_purge_dry_run_and_apply_keep_to_the_age_threshold(store: Store) -> None:
    with store.begin() as conn:
        old = add_place(conn, "OLD", status="closed", erased_at=NOW - dt.timedelta(days=400))
        new = add_place(conn, "NEW", status="closed", erased_at=NOW - dt.timedelta(days=10))
        add_place(conn, "LIVE", status="closed")
        add_reports(conn, old, "OLD", n=2)
        add_reports(conn, new, "NEW", n=1)
        conn.execute(sa.insert(schema.place_reviews).values(
            place_id=old, decided_at=NOW, decided_by="ann", decision="close"))
    dry = review.purge(store, older_than_days=365, apply=False, user="cli:x", now=NOW)
    assert not dry.applied and dry.places["source_id"].tolist() == ["OLD"]
    assert dry.counts == {"places": 1, "place_levels": 1, "place_reviews": 1, "reports": 2,
                          "activities": 1}
    assert place_row(store, "OLD") is not None and audit_rows(store, "purge").empty

    done = review.purge(store, older_than_days=365, apply=True, user="cli:x", now=NOW)
    assert done.applied and done.counts == dry.counts
    assert place_row(store, "OLD") is None
    assert place_row(store, "NEW") is not None and place_row(store, "LIVE") is not None
    r, a = schema.reports, schema.activities
    with store.connect() as conn:
        kept = dict(conn.execute(sa.select(r.c.source_id, r.c.place_id)).all())
        assert kept == {"OLD-R0": None, "OLD-R1": None, "NEW-R0": new}
        assert conn.scalar(sa.select(a.c.place_id).where(a.c.source_id == "OLD-A")) is None
        for table in (schema.place_levels, schema.place_reviews):
            assert conn.scalar(sa.select(sa.func.count()).select_from(table)
                               .where(table.c.place_id == old)) == 0
    logged = audit_rows(store, "purge")
    assert len(logged) == 1 and logged["object_ids"].iloc[0] == "OLD"
    assert logged["user_name"].iloc[0] == "cli:x"
    assert "1 places" in logged["detail"].iloc[0] and "2 reports" in logged["detail"].iloc[0]

    again = review.purge(store, older_than_days=5, apply=True, user="cli:x", now=NOW)
    assert again.places["source_id"].tolist() == ["NEW"]
    assert len(audit_rows(store, "purge")) == 2


def test_purge_refuses_a_negative_period(store: Store) -> None:
    with pytest.raises(ReviewError, match="negative"):
        review.purge(store, older_than_days=-1, apply=False, user="x")


def test_an_erased_place_cannot_come_back_by_import(sqlite_store, tmp_path) -> None:
    from layers.access import review_store as review
    from layers.records.importer import import_file
    from layers.store.engine import replace_areas
    from tests.api.conftest import PLACES, _write, make_areas

    replace_areas(sqlite_store, make_areas(), source="test")
    assert import_file(sqlite_store, "places", _write(tmp_path / "p.csv", PLACES)).rejected == 0
    review.decide(sqlite_store, "P4", decision="close", reason="shop shut", user="analyst")
    review.erase(sqlite_store, "P4", user="analyst")
    again = import_file(sqlite_store, "places", _write(tmp_path / "p2.csv", PLACES))
    assert again.rejected == 1
    assert "P4" in again.messages[0] and "erased and cannot be imported again" in again.messages[0]
    linked = [{"report_id": "RX", "reported_on": "2025-06-01", "place_id": "P4", "mace_level": 2}]
    result = import_file(sqlite_store, "reports", _write(tmp_path / "r.csv", linked))
    assert result.rejected == 1 and "this place was erased" in result.messages[0]

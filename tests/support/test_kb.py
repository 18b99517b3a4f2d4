from pathlib import Path

import pytest

from shopml.core.errors import ValidationError
from shopml.support.kb import KnowledgeBase

BITEXT = (
    "cancel_order change_order change_shipping_address check_cancellation_fee check_invoice "
    "check_payment_methods check_refund_policy complaint contact_customer_service "
    "contact_human_agent create_account delete_account delivery_options delivery_period "
    "edit_account get_invoice get_refund newsletter_subscription payment_issue place_order "
    "recover_password registration_problems review set_up_shipping_address switch_account "
    "track_order track_refund"
).split()


def test_default_kb_covers_bitext_intents():
    kb = KnowledgeBase.load()
    assert sorted(kb.entries) == sorted(BITEXT)
    assert kb.entries["contact_human_agent"].handover
    data = Path(
        "../shared/data/bitext_customer_service/Bitext_Sample_Customer_Service_Training_Dataset.csv"
    )
    if data.exists():  # the real data's intents are the ones the knowledge base answers
        import pandas as pd

        assert set(pd.read_csv(data, encoding="utf-8-sig")["intent"]) == set(BITEXT)


def test_slots_fill_or_fall_back():
    kb = KnowledgeBase.load()
    slots = {
        "order_id": "o7",
        "order_date": "2024-02-03",
        "order_status": "cancelled",
        "order_items": 3,
        "order_total": "15.00",
    }
    text, used = kb.render("track_order", slots)
    assert "o7" in text and "cancelled" in text and "15.00" in text
    assert used == slots
    generic, used = kb.render("track_order", {})
    assert "{" not in generic and used == {}
    # settings fill without a customer
    text, _ = kb.render("check_refund_policy", None)
    assert "30 days" in text
    assert "colleague" in kb.render("no_such_intent", slots)[0]


def test_kb_round_trip_and_errors(tmp_path):
    kb = KnowledgeBase.load()
    p = tmp_path / "kb.yaml"
    p.write_text(kb.to_text())
    again = KnowledgeBase.load(p)
    assert again.entries == kb.entries and again.settings == kb.settings
    with pytest.raises(ValidationError, match="needs an 'answer'"):
        KnowledgeBase.from_text("intents:\n  x: {questions: [a]}\n")
    with pytest.raises(ValidationError, match="must not need customer data"):
        KnowledgeBase.from_text(
            "intents:\n  x: {answer: 'a {order_id}', fallback: 'b {order_id}'}\n"
        )
    with pytest.raises(ValidationError, match="not valid YAML"):
        KnowledgeBase.from_text("intents: [\n")
    with pytest.raises(ValidationError, match="does not exist"):
        KnowledgeBase.load(tmp_path / "none.yaml")

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.data.workspace import Workspace
from shopml.registry import Registry
from shopml.support.assistant import SupportAssistant
from shopml.support.slots import customer_slots


def test_where_is_my_order_uses_the_customers_last_order(intent_model, shop):
    bot = SupportAssistant().fit(intents=intent_model)
    with Workspace(shop, read_only=True) as ws:
        ans = bot.answer("where is my order?", "u1", ws.sql)
        unknown = bot.answer("where is my order?", "nobody", ws.sql)
    assert ans.intent == "track_order" and not ans.handover
    assert ans.slots_used["order_id"] == "o2"
    assert ans.slots_used["order_status"] == "cancelled"
    assert ans.slots_used["order_total"] == "15.00"
    assert ans.slots_used["order_items"] == 3
    assert "o2" in ans.answer and "cancelled" in ans.answer
    assert unknown.slots_used == {} and "o2" not in unknown.answer


def test_handover_reasons(intent_model):
    bot = SupportAssistant().fit(intents=intent_model)
    out = bot.answer_many(
        [
            "I want to file a complaint",
            "what is the weather on mars",
            "reset my password",
            "This is RIDICULOUS, refund me NOW!!!",
        ]
    )
    assert [a.handover for a in out] == [True, True, False, True]
    assert out[0].reason == "entry asks for a person"
    assert out[1].reason == "low confidence"
    assert out[3].frustration["anger_flag"]
    with pytest.raises(ValidationError, match="empty"):
        bot.answer("  ")


def test_slots_without_orders_table(tmp_path):
    assert customer_slots(lambda *a: (_ for _ in ()).throw(RuntimeError("no table")), "u1") == {}
    assert customer_slots(lambda *a: pd.DataFrame(), None) == {}


def test_train_register_load_batch(shop, tmp_path):
    from shopml.support.train import batch, load, train

    mv = train(shop, tmp_path / "reg", "tfidf", params={"C": 0.25, "class_weight": None})
    assert mv.metrics["validation_accuracy"] > 0.9
    served = load(mv, None)
    a = served.answer_many(["cancel my order"])[0]
    assert a.intent == "cancel_order"
    out = batch(Registry(tmp_path / "reg"), shop, tmp_path / "answers.parquet")
    df = pd.read_parquet(out)
    assert len(df) == 200 and {"intent", "confidence", "handover", "answer", "anger_flag"} <= set(
        df.columns
    )
    known = df[df["user_id"] == "u1"]
    tracked = known[(known["intent"] == "track_order") & ~known["handover"]]
    assert tracked["answer"].str.contains("o2").all()
    assert np.isfinite(df["confidence"]).all()


def test_router_logic(intent_model):
    from shopml.serve.routers.support import SupportQuestion, answer_one
    from shopml.support.train import ServedAssistant

    served = ServedAssistant(SupportAssistant().fit(intents=intent_model))
    body = answer_one(served, SupportQuestion(text="I forgot my password"))
    assert body["intent"] == "recover_password" and body["handover"] is False
    assert body["threshold"] == intent_model.threshold_
    assert set(body) >= {"intent", "confidence", "answer", "handover", "slots_used", "frustration"}

//! First response and agent replies derived from a conversation log (`tests/fixtures/messages/`).

use crate::common::*;

#[test]
fn first_response_and_replies_come_from_public_agent_messages() {
    let out = run(&root().join("tests/fixtures/messages/pipeline.yaml"));
    let df = read_parquet(&out.path().join("overall.parquet"));
    let jan = Some("2026-01-01");
    // M1 opens 09:00; the bot's 09:00:05 auto-reply and the agent's 09:02 internal note do not count; the
    // first public agent message is 09:10: 600 s. M2 opens 10:00 with an agent message at that very instant
    // (not after the opening); the first response is 10:35: 2,100 s. M3 has only customer and system
    // messages: no response.
    let frt = row(&df, &[], jan, "first_response_time", "mean");
    assert_eq!((frt.value, frt.n), (1_350.0, 2));
    // Public agent replies: M1 09:10 and 09:30, M2 10:35 (its 10:00 message opened the ticket, which Zendesk
    // does not count as a reply for agent-created tickets); both resolved: 3 / 2.
    assert_eq!(row(&df, &[], jan, "exchanges_per_resolution", "value").value, 1.5);
    // M1's two replies are not a first-contact resolution; M2's one reply is (no reopen): 1 of 2.
    assert_eq!(row(&df, &[], jan, "fcr_rate", "value").value, 50.0);
}

#[test]
fn next_reply_time_measures_each_customer_wait_until_the_next_public_agent_message() {
    let out = run(&root().join("tests/fixtures/messages/pipeline.yaml"));
    let df = read_parquet(&out.path().join("overall.parquet"));
    let jan = Some("2026-01-01");
    // M1: the customer writes at 09:00 (bot and internal note ignored), answered 09:10 (600 s); writes again
    // at 09:20 after that reply, answered 09:30 (600 s). M2: the customer writes at 10:05 after the agent's
    // 10:00 message, answered 10:35 (1,800 s). M3's wait never ends: left out. Waits 600, 600, 1,800.
    let mean = row(&df, &[], jan, "next_reply_time", "mean");
    assert_eq!((mean.value, mean.n), (1_000.0, 3));
    assert_eq!(row(&df, &[], jan, "next_reply_time", "median").value, 600.0);
    // p90: rank 0.9 × 2 = 1.8 → 600 + 0.8 × 1,200.
    assert_close(row(&df, &[], jan, "next_reply_time", "p90").value, 1_560.0, "p90");
}

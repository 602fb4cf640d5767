//! First response and agent replies derived from a conversation log (`tests/fixtures/messages/`).

mod common;
use common::*;

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
    // Public agent messages: M1 09:10 and 09:30, M2 10:00 and 10:35; both resolved: 4 / 2.
    assert_eq!(row(&df, &[], jan, "exchanges_per_resolution", "value").value, 2.0);
    // Two replies each: neither is a first-contact resolution.
    assert_eq!(row(&df, &[], jan, "fcr_rate", "value").value, 0.0);
}

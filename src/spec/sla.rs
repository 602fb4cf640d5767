//! The raw (serde) types of the `sla:` section: each SLA metric's rules.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Located;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaSpec {
    /// Targets for the first response; the most specific matching rule applies.
    #[serde(default)]
    pub first_response: Vec<Located<SlaRuleSpec>>,
    /// Targets for each next reply: from a customer comment after an agent's public reply to the next
    /// public agent comment (needs a message log).
    #[serde(default)]
    pub next_reply: Vec<Located<SlaRuleSpec>>,
    /// Targets for the time between public agent comments (needs a message log).
    #[serde(default)]
    pub periodic_update: Vec<Located<SlaRuleSpec>>,
    /// Targets for the time between public agent comments, paused while the ticket is pending (needs a
    /// message log and a ticket history).
    #[serde(default)]
    pub pausable_update: Vec<Located<SlaRuleSpec>>,
    /// Targets for the time in new, open and on-hold before the solve (needs a ticket history).
    #[serde(default)]
    pub requester_wait: Vec<Located<SlaRuleSpec>>,
    /// Targets for the time in new and open before the solve (needs a ticket history).
    #[serde(default)]
    pub agent_work: Vec<Located<SlaRuleSpec>>,
    /// Targets for resolution.
    #[serde(default)]
    pub resolution: Vec<Located<SlaRuleSpec>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRuleSpec {
    /// Channel the rule applies to (any when omitted).
    #[serde(default)]
    pub channel: Option<String>,
    /// Priority the rule applies to (any when omitted).
    #[serde(default)]
    pub priority: Option<String>,
    /// Group the rule applies to: the ticket's `team` (any when omitted).
    #[serde(default)]
    pub group: Option<String>,
    /// A duration: `60s`, `2m`, `4h`, `2d` (a day is 24 hours) or a number of seconds.
    pub target: Located<String>,
    /// `calendar` (default; `wall` is the same) or `business`: the target counts only the hours the ticket's calendar is open
    /// (`24h` with `business` is 24 business hours).
    #[serde(default)]
    pub clock: Option<Located<String>>,
}

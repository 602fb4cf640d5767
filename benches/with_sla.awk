# The generated pipeline with every SLA metric a message log gives (next reply, periodic update) beside its
# first-response and resolution targets, and their attainment KPIs and `sla_breaches`. With `-v tables=1`, also
# `outputs: { sla: true, replies: true }`. Used by benches/sla.sh and `SLA=1 benches/nightly.sh`.
/^sla:/ {
  print
  print "  next_reply:\n    - { channel: chat, target: 2m }\n    - { priority: urgent, target: 1h }\n    - { target: 8h }"
  print "  periodic_update:\n    - { target: 1d }"
  next
}
/^kpis:/ { print; print "  - next_reply_sla_attainment\n  - periodic_update_sla_attainment\n  - sla_breaches"; next }
/^outputs:/ && tables { print "outputs:\n  sla: true\n  replies: true"; skip = 1; next }
skip && /^[^ ]/ { skip = 0 }
skip && /^  (sla|replies|tickets):/ { next }
{ print }

#!/usr/bin/env python3
"""Writes the shipped sample dump (deterministic: same seed, same bytes).

The files imitate real exports, awkward parts included:
- zendesk/tickets-YYYY-MM.csv: a Zendesk-like ticket export, one file per month (a glob source), ISO timestamps
  with `Z`, `via` channel names, space-separated tags, empty strings for nulls, subjects with commas, quotes,
  line breaks and accents; the March file starts with a UTF-8 BOM, as Excel writes it.
- zendesk/satisfaction_ratings.csv: Zendesk's good / bad ratings, with "offered" rows that were never answered.
- surveys/survey_responses.csv: a survey tool's export (NPS and CES), local Paris time as dd/mm/yyyy HH:MM.
- crm/accounts.csv: a CRM account export with `;` separators, decimal commas and dd/mm/yyyy dates.
- hr/enps.csv: an HR tool's quarterly employee NPS answers from the support agents.
- zendesk/chat_messages.csv: chat transcripts, one row per message (end-user, agent, bot; internal notes).
- helpcenter/article_stats.csv: a help-center analytics export, one row per article and week (views, sessions,
  bounces, "was this helpful?" votes), French and English articles; the legal section never gets votes.
- marketing/spend.csv: monthly sales and marketing spend per acquisition channel, months written as YYYY-MM;
  the accounts carry the lead source that won them, and 24 of them were won during 2026.

Run from the repository root: python3 sample_data/make_sample.py
"""
import csv
import math
import os
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

rng = random.Random(20260101)
HERE = os.path.dirname(os.path.abspath(__file__))
PARIS = ZoneInfo("Europe/Paris")

SECTORS = {  # sector: (accounts, speed factor, satisfaction shift)
    "Retail": (9, 1.0, 0.0),
    "Software": (8, 0.7, 0.05),
    "Healthcare": (7, 1.3, -0.05),
    "Financial Services": (8, 0.9, 0.02),
    "Telecommunications": (8, 1.5, -0.12),
}
REGIONS = ["Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie", "Benelux", "DACH"]
TIERS = ["gold", "silver", "bronze"]
NAMES = ["Boulangerie Léon", "Crédit Mutuel; Agence Sud", "Société Générale d'Éclairage", "Müller & Söhne GmbH",
         "Café \"Le Zinc\"", "Pharmacie Saint-Éloi", "Télécom Océane", "Banque Rhône-Alpes", "Logiciels Néo",
         "Clinique des Lilas", "Épicerie Fine Dupont", "Assurances Bérénice", "Hôpital Privé Sud", "DataForge SAS",
         "Réseau Fibre Alpha", "Maison Chevalier", "Groupe Hélios", "Nordic Retail AB", "Kiné Plus", "Finatis",
         "Opérateur Mobile Est", "Librairie Gaïa", "CloudÉtoile", "Mutuelle Provence", "Ciné Lumière",
         "Atelier Brodé", "Pixel & Cie", "Santé Connect", "Crédit Ouest", "Voix Sans Fil", "Marché Bio Lyon",
         "Quantix", "Dentistes Associés", "Capital Azur", "Télé2Go", "Les Jouets d'Antan", "Stratégie Code",
         "Radiologie Nord", "Épargne Liberté", "Câble & Ondes"]

CHANNELS = {  # via: (share, median first response s, sigma, wait median s or None, handle median s or None)
    "email": (0.32, 6 * 3600, 1.0, None, 420),
    "web": (0.14, 8 * 3600, 1.0, None, 480),
    "chat": (0.24, 45, 0.8, 40, 600),
    "voice": (0.22, 70, 0.7, 75, 360),
    "twitter": (0.08, 3 * 3600, 1.1, None, 300),
}
TEAMS = {"Niveau 1": 12, "Niveau 2": 7, "Facturation": 5}
CATEGORIES = ["question", "incident", "problem", "task"]
PRIORITIES = [("low", 0.2), ("normal", 0.55), ("high", 0.18), ("urgent", 0.07)]
FIRST = ["léa", "hugo", "chloé", "lucas", "inès", "louis", "jade", "gabriel", "zoé", "raphaël", "manon", "arthur",
         "camille", "noah", "sarah", "jules", "emma", "adam", "lina", "tom", "anaïs", "nathan", "eva", "théo"]
SUBJECTS = ["Problème de facturation, facture en double", "Impossible de me connecter", "Question sur l'offre \"Pro\"",
            "Colis non reçu", "Remboursement demandé", "Erreur 500 sur le tableau de bord", "Changement d'adresse",
            "Réclamation : débit incorrect", "How do I export my data?", "Password reset, urgent",
            "Résiliation du contrat", "Mise à jour de la carte bancaire"]
COMMENTS_GOOD = ["Merci, très rapide !", "Parfait, problème réglé.", "Great help, thanks", "Agent très aimable 👍",
                 "Réponse claire, \"top\"", ""]
COMMENTS_BAD = ["Trop long, 3 jours d'attente…", "Problème toujours pas résolu,\nje dois rappeler.",
                "Pas de réponse à mon e-mail", "Very slow, had to ask twice", ""]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MONTHS = 6


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""


def lognormal(median, sigma):
    return median * math.exp(rng.gauss(0, sigma))


def pick(weighted):
    r, acc = rng.random(), 0.0
    for value, w in weighted:
        acc += w
        if r < acc:
            return value
    return weighted[-1][0]


def make_accounts():
    accounts, i = [], 0
    for sector, (count, _, _) in SECTORS.items():
        for _ in range(count):
            since = datetime(2021, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
            churned = ""
            if rng.random() < 0.15:
                churned = (datetime(2026, 1, 1) + timedelta(days=rng.randrange(0, 180))).strftime("%d/%m/%Y")
            accounts.append({
                "Account ID": f"ORG-{1001 + i}", "Account Name": NAMES[i], "Industry": sector,
                "Region": rng.choice(REGIONS), "Tier": rng.choice(TIERS),
                "Customer Since": since.strftime("%d/%m/%Y"), "Churn Date": churned,
                "Annual Revenue (EUR)": f"{rng.uniform(8000, 450000):.2f}".replace(".", ","),
            })
            i += 1
    return accounts


def make_agents():
    agents, names = [], iter(FIRST)
    for team, count in TEAMS.items():
        for _ in range(count):
            first = next(names)
            agents.append({"email": f"{first}@support.example", "team": team, "skill": rng.uniform(0.75, 1.35)})
    return agents


def make_tickets(accounts, agents):
    tickets = []
    sector_of = {a["Account ID"]: a["Industry"] for a in accounts}
    for n in range(4200):
        created = START + timedelta(seconds=rng.randrange(0, 181 * 86400))
        # office hours are busier
        if rng.random() < 0.7:
            created = created.replace(hour=rng.randrange(8, 18))
        via = pick([(v, c[0]) for v, c in CHANNELS.items()])
        _, frt_median, sigma, wait_median, handle_median = CHANNELS[via]
        account = rng.choice(accounts)["Account ID"]
        speed = SECTORS[sector_of[account]][1]
        agent = rng.choice(agents)
        status = pick([("solved", 0.55), ("closed", 0.30), ("open", 0.07), ("pending", 0.05), ("new", 0.03)])
        abandoned = via in ("voice", "chat") and rng.random() < 0.07
        age_limit = START + timedelta(days=MONTHS * 30 + 5)
        first_reply = None
        if status != "new" and not abandoned:
            first_reply = created + timedelta(seconds=round(lognormal(frt_median * speed * agent["skill"], sigma)))
        solved = None
        if status in ("solved", "closed") or abandoned:
            status = "closed" if abandoned else status
            base = first_reply or created
            solved = base + timedelta(seconds=round(lognormal(20 * 3600 * speed, 1.2)))
            if abandoned:
                solved = created + timedelta(minutes=rng.randrange(1, 10))
        if solved and solved > age_limit:
            solved, status = None, "open"
        tags = []
        if abandoned:
            tags.append("abandoned")
        if rng.random() < 0.08 * speed:
            tags.append("escalated")
        if rng.random() < 0.1:
            tags.append("vip")
        replies = 0 if not first_reply else 1 + min(int(rng.expovariate(0.9)), 8)
        reopens = 1 if solved and rng.random() < 0.06 * speed else 0
        if reopens and rng.random() < 0.2:
            reopens = 2
        subject = rng.choice(SUBJECTS)
        if rng.random() < 0.05:
            subject += "\nEnvoyé depuis mon iPhone"
        team = agent["team"]
        tickets.append({
            "id": str(10000 + n), "created_at": created, "updated_at": iso(solved or first_reply or created),
            "first_replied_at": iso(first_reply), "solved_at": iso(solved), "status": status, "via": via,
            "priority": pick(PRIORITIES), "type": rng.choice(CATEGORIES),
            "assignee_email": agent["email"] if first_reply else "", "group": team if first_reply else "",
            "organization_id": account, "subject": subject, "tags": " ".join(tags),
            "reopens": str(reopens), "replies": str(replies),
            "talk_time_sec": "" if (handle_median is None or not first_reply or via in ("email", "web", "twitter"))
            else str(round(lognormal(handle_median, 0.5))),
            "hold_time_sec": "" if wait_median is None else str(round(lognormal(wait_median * speed, 0.6))),
            "_frt": (first_reply - created).total_seconds() if first_reply else None,
        })
    tickets.sort(key=lambda t: (t["created_at"], t["id"]))
    return tickets


def make_ratings(tickets, accounts):
    shift = {a["Account ID"]: SECTORS[a["Industry"]][2] for a in accounts}
    rows = []
    for t in tickets:
        if not t["solved_at"] or "abandoned" in t["tags"] or rng.random() > 0.35:
            continue
        frt = t["_frt"] or 0
        p_good = 0.93 - 0.06 * math.log10(1 + frt / 60) + shift[t["organization_id"]]
        answered = rng.random() < 0.85
        score = ("good" if rng.random() < p_good else "bad") if answered else "offered"
        comment = "" if score == "offered" else rng.choice(COMMENTS_GOOD if score == "good" else COMMENTS_BAD)
        at = datetime.strptime(t["solved_at"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=rng.uniform(1, 48))
        rows.append({"id": str(900000 + len(rows)), "ticket_id": t["id"], "score": score, "comment": comment,
                     "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "assignee_email": t["assignee_email"]})
    return rows


def make_survey_responses(tickets, accounts):
    rows = []
    for a in accounts:
        shift = SECTORS[a["Industry"]][2]
        for _ in range(rng.randrange(4, 16)):  # relationship NPS, account level
            at = START + timedelta(seconds=rng.randrange(0, 181 * 86400))
            r = rng.random() - shift
            score = rng.choice([9, 10]) if r < 0.45 else rng.choice([7, 8]) if r < 0.75 else rng.randrange(0, 7)
            rows.append(("NPS", score, at, a["Account ID"], ""))
    for t in tickets:  # CES after a solved ticket
        if t["solved_at"] and "abandoned" not in t["tags"] and rng.random() < 0.12:
            at = datetime.strptime(t["solved_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            score = max(1, min(7, round(rng.gauss(5.4 - t["reopens"].count("1"), 1.3))))
            rows.append(("Customer Effort", score, at + timedelta(hours=2), t["organization_id"], t["id"]))
    rows.sort(key=lambda r: (r[2], r[3], r[4]))
    out = []
    for i, (kind, score, at, account, ticket) in enumerate(rows):
        comment = ""
        if rng.random() < 0.3:
            comment = rng.choice(["Service au top, équipe réactive", "Trop d'allers-retours, \"compliqué\"",
                                  "Délai correct; rien à dire", "Je recommande à 100 %", "Effort énorme pour un simple remboursement"])
        out.append({"Response ID": f"R{i + 1:05d}", "Survey Type": kind, "Score": str(score), "Comment": comment,
                    "Submitted": at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"), "Company ID": account,
                    "Ticket": ticket})
    return out


def write(path, rows, fields, delimiter=",", bom=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, delimiter=delimiter, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main():
    accounts = make_accounts()
    agents = make_agents()
    tickets = make_tickets(accounts, agents)
    ratings = make_ratings(tickets, accounts)
    responses = make_survey_responses(tickets, accounts)
    fields = ["id", "created_at", "updated_at", "first_replied_at", "solved_at", "status", "via", "priority", "type",
              "assignee_email", "group", "organization_id", "subject", "tags", "reopens", "replies", "talk_time_sec",
              "hold_time_sec"]
    for m in range(MONTHS):
        month = f"2026-{m + 1:02d}"
        rows = [dict(t, created_at=iso(t["created_at"])) for t in tickets if t["created_at"].strftime("%Y-%m") == month]
        write(f"{HERE}/zendesk/tickets-{month}.csv", rows, fields, bom=(month == "2026-03"))
    write(f"{HERE}/zendesk/satisfaction_ratings.csv", ratings,
          ["id", "ticket_id", "score", "comment", "created_at", "assignee_email"])
    write(f"{HERE}/surveys/survey_responses.csv", responses,
          ["Response ID", "Survey Type", "Score", "Comment", "Submitted", "Company ID", "Ticket"])
    crm = with_acquisitions(accounts)
    write(f"{HERE}/crm/accounts.csv", crm, list(crm[0].keys()), delimiter=";")
    write(f"{HERE}/marketing/spend.csv", make_spend(), ["month", "channel", "amount"])
    write(f"{HERE}/helpcenter/article_stats.csv", make_article_stats(),
          ["Article ID", "Article title", "Section", "Locale", "Week", "Views", "Sessions", "Bounces", "Upvotes",
           "Downvotes"])
    write(f"{HERE}/hr/enps.csv", make_enps(agents), ["respondent", "team", "question", "answer", "answered_on"])
    write(f"{HERE}/zendesk/chat_messages.csv", make_chat_messages(tickets),
          ["ticket_id", "created_at", "author_type", "author", "public"])


def make_chat_messages(tickets):
    chat = random.Random(11)  # its own stream: the other files stay as they were
    rows = []
    for t in tickets:
        if t["via"] != "chat":
            continue
        opened = t["created_at"]
        rows.append((t["id"], opened, "end-user", "", "true"))
        rows.append((t["id"], opened + timedelta(seconds=2), "bot", "", "true"))
        if not t["first_replied_at"]:
            continue
        at = datetime.strptime(t["first_replied_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        agent = t["assignee_email"]
        rows.append((t["id"], at, "agent", agent, "true"))
        for _ in range(int(t["replies"]) - 1):
            if chat.random() < 0.2:
                rows.append((t["id"], at + timedelta(seconds=5), "agent", agent, "false"))  # internal note
            at += timedelta(seconds=round(lognormal_with(chat, 90, 0.8)))
            rows.append((t["id"], at, "end-user", "", "true"))
            at += timedelta(seconds=round(lognormal_with(chat, 75, 0.9)))
            rows.append((t["id"], at, "agent", agent, "true"))
    return [{"ticket_id": r[0], "created_at": iso(r[1]), "author_type": r[2], "author": r[3], "public": r[4]}
            for r in sorted(rows, key=lambda r: (r[1], r[0]))]


LEAD_SOURCES = ["ads", "events", "referral", "outbound"]


def with_acquisitions(accounts):
    """The CRM file: every account with its lead source, plus accounts won in 2026 (no tickets yet)."""
    crm = random.Random(23)  # its own stream: the other files stay as they were
    rows = [dict(a, **{"Lead Source": crm.choice(LEAD_SOURCES)}) for a in accounts]
    for n in range(24):
        since = datetime(2026, 1, 1) + timedelta(days=crm.randrange(0, 181))
        rows.append({
            "Account ID": f"ORG-{2001 + n}", "Account Name": f"Nouveau client {n + 1}",
            "Industry": crm.choice(list(SECTORS)), "Region": crm.choice(REGIONS), "Tier": crm.choice(TIERS),
            "Customer Since": since.strftime("%d/%m/%Y"), "Churn Date": "",
            "Annual Revenue (EUR)": f"{crm.uniform(8000, 200000):.2f}".replace(".", ","),
            "Lead Source": crm.choice(LEAD_SOURCES),
        })
    return rows


def make_spend():
    marketing = random.Random(31)
    budget = {"ads": 9000, "events": 6000, "referral": 1500, "outbound": 4000}
    return [{"month": f"2026-{m:02d}", "channel": channel, "amount": f"{base * marketing.uniform(0.7, 1.3):.2f}"}
            for m in range(1, MONTHS + 1) for channel, base in budget.items()]


ARTICLES = [  # section, locale, title, weekly views, helpful share (None: votes disabled)
    ("Facturation", "fr", "Télécharger une facture", 420, 0.82),
    ("Facturation", "fr", "Changer de moyen de paiement", 260, 0.74),
    ("Facturation", "en-us", "Download an invoice", 150, 0.85),
    ("Compte", "fr", "Réinitialiser son mot de passe", 610, 0.9),
    ("Compte", "fr", "Ajouter un utilisateur « administrateur »", 180, 0.66),
    ("Compte", "en-us", "Reset your password", 240, 0.88),
    ("Livraison", "fr", "Suivre ma commande, étape par étape", 530, 0.58),
    ("Livraison", "fr", "Délais de livraison à l'étranger", 210, 0.41),
    ("Livraison", "en-us", "Track your order", 190, 0.6),
    ("Intégrations", "en-us", "Connect the API, \"quick start\"", 95, 0.77),
    ("Mentions légales", "fr", "Conditions générales de vente", 70, None),
    ("Mentions légales", "en-us", "Terms of sale", 25, None),
]


def make_article_stats():
    kb = random.Random(41)  # its own stream: the other files stay as they were
    rows = []
    monday = datetime(2025, 12, 29)
    for week in range(27):
        day = monday + timedelta(weeks=week)
        for n, (section, locale, title, views, helpful) in enumerate(ARTICLES):
            v = max(0, round(views * kb.uniform(0.6, 1.4)))
            sessions = round(v * kb.uniform(0.7, 0.9))
            bounces = round(sessions * kb.uniform(0.25, 0.6))
            votes = 0 if helpful is None else round(v * kb.uniform(0.01, 0.05))
            up = sum(kb.random() < helpful for _ in range(votes)) if votes else 0
            rows.append({"Article ID": str(360001000 + n), "Article title": title, "Section": section,
                         "Locale": locale, "Week": day.strftime("%Y-%m-%d"), "Views": v, "Sessions": sessions,
                         "Bounces": bounces, "Upvotes": "" if helpful is None else up,
                         "Downvotes": "" if helpful is None else votes - up})
    return rows


def lognormal_with(generator, median, sigma):
    return median * math.exp(generator.gauss(0, sigma))


def make_enps(agents):
    hr = random.Random(7)  # its own stream: the other files stay as they were
    rows = []
    for quarter_start in ("2026-01-12", "2026-04-13"):
        for a in agents:
            if hr.random() < 0.85:
                answer = hr.choice([9, 10, 10, 8, 7, 6, 9, 4, 8, 10])
                rows.append({"respondent": a["email"], "team": a["team"], "question": "eNPS",
                             "answer": str(answer), "answered_on": quarter_start})
    return rows


if __name__ == "__main__":
    main()

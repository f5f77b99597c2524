"""Everything the bot says, in French and English, and how dates and numbers are written.

Templates are Telegram HTML. `t()` HTML-escapes every value it fills in, so article and user text
can never inject markup; a value that is already HTML must be wrapped in `Html` to say so.
Templates of both languages have the same keys and the same placeholders (a test checks it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


class Html(str):
    """A string that is already valid Telegram HTML: `t()` inserts it without escaping."""

    __slots__ = ()


def escape(text: str) -> Html:
    """HTML-escape text for Telegram: `&`, `<` and `>` (quotes need no escaping outside
    attributes, and Telegram accepts only a few named entities)."""
    return Html(html.escape(text, quote=False))


def t(language: str, key: str, /, **values: object) -> Html:
    """The message `key` in `language` (English if we do not speak it), values escaped."""
    catalog = MESSAGES.get(language, MESSAGES["en"])
    filled = {
        name: value if isinstance(value, Html) else escape(str(value))
        for name, value in values.items()
    }
    return Html(catalog[key].format(**filled))


def plain(language: str, key: str, /, **values: object) -> str:
    """The message `key` as plain text, for places that take no HTML (callback query notices,
    button labels); its template must contain no markup or entities."""
    catalog = MESSAGES.get(language, MESSAGES["en"])
    return catalog[key].format(**{name: str(value) for name, value in values.items()})


def plural(language: str, key: str, count: int) -> str:
    """`key_one` or `key_other` filled with the count, by the language's rule (French counts
    0 and 1 as singular)."""
    one = count in (0, 1) if language == "fr" else count == 1
    return plain(language, f"{key}_{'one' if one else 'other'}", n=format_number(count, language))


def quote(language: str, text: str) -> str:
    """Quotation marks of the language around `text` (not escaped)."""
    return f"«\u00a0{text}\u00a0»" if language == "fr" else f"“{text}”"


def format_number(value: int, language: str) -> str:
    """1234567 as "1 234 567" (French, narrow no-break spaces) or "1,234,567"."""
    grouped = f"{value:,}"
    return grouped.replace(",", "\u202f") if language == "fr" else grouped


def format_size(size: int, language: str) -> str:
    """A byte count as readers say it: "3 Mo" / "3 MB", "500 ko" / "500 kB"."""
    units = ("o", "ko", "Mo") if language == "fr" else ("B", "kB", "MB")
    for power, unit in ((2, units[2]), (1, units[1])):
        if size >= 1000**power:
            value = round(size / 1000**power, 1)
            text = f"{value:g}".replace(".", ",") if language == "fr" else f"{value:g}"
            return f"{text}\u00a0{unit}"
    return f"{format_number(size, language)}\u00a0{units[0]}"


_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def format_date(value: datetime, language: str) -> str:
    """ "26 novembre 2025" / "26 November 2025" ("1er" for the first, as French writes it).

    The date is *value*'s own: UTC for articles (the store keeps UTC), the chat's time zone
    for a digest.
    """
    months = _MONTHS.get(language, _MONTHS["en"])
    day = "1er" if language == "fr" and value.day == 1 else str(value.day)
    return f"{day} {months[value.month - 1]} {value.year}"


@dataclass(frozen=True, slots=True)
class CommandDoc:
    """One command as /help, the Telegram command menu and the README describe it."""

    name: str
    menu: str  # short description for the command menu (plain text, 3-256 characters)
    args: str  # argument synopsis, HTML ("" for none)
    help: str  # one line for /help, HTML
    examples: tuple[str, ...]
    # For `telegram.admins` only: in their command menu and /help, nobody else's (others get
    # the unknown-command answer, so listing it to them would only invite that answer).
    admin: bool = False


COMMANDS: dict[str, tuple[CommandDoc, ...]] = {
    "fr": (
        CommandDoc(
            "latest",
            "Les derniers articles",
            "[<i>rubrique</i>] [<i>n</i>]",
            "les n derniers articles (5 par défaut, 20 au plus), d’une rubrique ou de toutes",
            ("/latest", "/latest économie 3"),
        ),
        CommandDoc(
            "categories",
            "Les rubriques",
            "",
            "les rubriques et leur nombre d’articles",
            ("/categories",),
        ),
        CommandDoc(
            "search",
            "Chercher un article",
            "<i>mots</i>",
            "chercher dans les titres et les textes (tous les mots doivent y être)",
            ("/search retraites", "/search prix de l’énergie"),
        ),
        CommandDoc(
            "summary",
            "Le résumé d’un article",
            "<i>numéro</i> [<i>phrases</i>]",
            "le résumé d’un article, en 1 à 20 phrases",
            ("/summary 42", "/summary 42 5"),
        ),
        CommandDoc(
            "full",
            "Le texte intégral d’un article",
            "<i>numéro</i>",
            "le texte intégral, page par page",
            ("/full 42",),
        ),
        CommandDoc(
            "summarize",
            "Résumer une page web",
            "<i>lien</i> [<i>phrases</i>]",
            "lire une page web et la résumer (envoyer simplement un lien fait de même)",
            (
                "/summarize https://www.example.org/article",
                "/summarize https://www.example.org/article 5",
            ),
        ),
        CommandDoc(
            "subscribe",
            "S’abonner à une rubrique",
            "<i>rubrique</i> [+mot] [-mot]",
            "recevoir ici chaque nouvel article d’une rubrique ; +mot : seulement s’il contient "
            "ce mot, -mot : sauf s’il le contient",
            ("/subscribe économie", "/subscribe sport +rugby -football"),
        ),
        CommandDoc(
            "unsubscribe",
            "Se désabonner",
            "<i>rubrique</i>|all",
            "ne plus recevoir une rubrique (all : aucune)",
            ("/unsubscribe sport", "/unsubscribe all"),
        ),
        CommandDoc(
            "subscriptions",
            "Mes abonnements",
            "",
            "vos abonnements et leur réception, avec un bouton pour se désabonner",
            ("/subscriptions",),
        ),
        CommandDoc(
            "digest",
            "Une sélection par jour",
            "<i>HH:MM</i>|off",
            "recevoir une sélection par jour à cette heure plutôt que chaque article "
            "(off : chaque article dès son arrivée)",
            ("/digest 08:00", "/digest off"),
        ),
        CommandDoc(
            "quiet",
            "Heures calmes",
            "<i>HH:MM-HH:MM</i>|off",
            "garder les articles arrivés pendant ces heures jusqu’à leur fin",
            ("/quiet 22:00-07:00", "/quiet off"),
        ),
        CommandDoc(
            "timezone",
            "Fuseau horaire",
            "<i>zone</i>",
            "le fuseau horaire des heures de sélection et des heures calmes",
            ("/timezone Europe/Paris",),
        ),
        CommandDoc("pause", "Suspendre la réception", "", "suspendre les envois", ("/pause",)),
        CommandDoc(
            "resume", "Reprendre la réception", "", "reprendre les envois suspendus", ("/resume",)
        ),
        CommandDoc(
            "format",
            "Format des publications",
            "<i>clé</i>=<i>valeur</i> …",
            "ce que montre chaque article publié ici : titre, résumé (0 à 5 phrases), "
            "#rubrique, auteur, source, lien, signature, image, publications silencieuses",
            ('/format summary=2 hashtags=on signature="— Rédaction"', "/format silent=quiet"),
        ),
        CommandDoc(
            "settings",
            "Résumés, langue, réception",
            "",
            "longueur et méthode des résumés, langue de l’interface, réception des abonnements",
            ("/settings",),
        ),
        CommandDoc(
            "language",
            "Changer de langue (fr, en)",
            "fr|en",
            "la langue de l’interface",
            ("/language en",),
        ),
        CommandDoc(
            "stats",
            "État du bot (administrateurs)",
            "",
            "pour les administrateurs du bot : articles, flux en échec, discussions, envois",
            ("/stats",),
            admin=True,
        ),
        CommandDoc(
            "feeds",
            "Les flux (administrateurs)",
            "[<i>page</i>]",
            "pour les administrateurs du bot : les flux, leur état, un bouton pour chacun",
            ("/feeds", "/feeds 2"),
            admin=True,
        ),
        CommandDoc(
            "addfeed",
            "Ajouter un flux (administrateurs)",
            "<i>url</i> [<i>rubrique</i>] [<i>langue</i>]",
            "pour les administrateurs du bot : vérifier puis ajouter un flux RSS ou Atom",
            ("/addfeed https://exemple.fr/rss.xml", "/addfeed https://exemple.fr/rss Sport fr"),
            admin=True,
        ),
        CommandDoc(
            "delfeed",
            "Retirer un flux (administrateurs)",
            "<i>numéro</i>",
            "pour les administrateurs du bot : retirer un flux (ses articles restent)",
            ("/delfeed 12",),
            admin=True,
        ),
        CommandDoc("help", "Toutes les commandes", "", "cette aide", ("/help",)),
        CommandDoc("start", "Accueil", "", "l’accueil", ("/start",)),
    ),
    "en": (
        CommandDoc(
            "latest",
            "The latest articles",
            "[<i>category</i>] [<i>n</i>]",
            "the n latest articles (5 by default, at most 20), in one category or all",
            ("/latest", "/latest économie 3"),
        ),
        CommandDoc(
            "categories",
            "Categories",
            "",
            "the categories and how many articles each has",
            ("/categories",),
        ),
        CommandDoc(
            "search",
            "Search the articles",
            "<i>words</i>",
            "search titles and texts (every word must appear)",
            ("/search pensions", "/search energy prices"),
        ),
        CommandDoc(
            "summary",
            "Summary of an article",
            "<i>number</i> [<i>sentences</i>]",
            "an article’s summary, in 1 to 20 sentences",
            ("/summary 42", "/summary 42 5"),
        ),
        CommandDoc(
            "full",
            "Full text of an article",
            "<i>number</i>",
            "the full text, page by page",
            ("/full 42",),
        ),
        CommandDoc(
            "summarize",
            "Summarize a web page",
            "<i>link</i> [<i>sentences</i>]",
            "read a web page and summarize it (just sending a link does the same)",
            (
                "/summarize https://www.example.org/article",
                "/summarize https://www.example.org/article 5",
            ),
        ),
        CommandDoc(
            "subscribe",
            "Subscribe to a category",
            "<i>category</i> [+word] [-word]",
            "get each new article of a category here; +word: only if it contains the word, "
            "-word: unless it does",
            ("/subscribe business", "/subscribe sport +rugby -football"),
        ),
        CommandDoc(
            "unsubscribe",
            "Unsubscribe",
            "<i>category</i>|all",
            "stop getting a category (all: every one)",
            ("/unsubscribe sport", "/unsubscribe all"),
        ),
        CommandDoc(
            "subscriptions",
            "My subscriptions",
            "",
            "your subscriptions and their delivery, with a button to unsubscribe",
            ("/subscriptions",),
        ),
        CommandDoc(
            "digest",
            "One digest a day",
            "<i>HH:MM</i>|off",
            "get one digest a day at that time instead of each article (off: each article "
            "as it arrives)",
            ("/digest 08:00", "/digest off"),
        ),
        CommandDoc(
            "quiet",
            "Quiet hours",
            "<i>HH:MM-HH:MM</i>|off",
            "hold the articles that arrive during these hours until they end",
            ("/quiet 22:00-07:00", "/quiet off"),
        ),
        CommandDoc(
            "timezone",
            "Time zone",
            "<i>zone</i>",
            "the time zone of digest times and quiet hours",
            ("/timezone Europe/London",),
        ),
        CommandDoc("pause", "Pause delivery", "", "pause deliveries", ("/pause",)),
        CommandDoc("resume", "Resume delivery", "", "resume paused deliveries", ("/resume",)),
        CommandDoc(
            "format",
            "Post format",
            "<i>key</i>=<i>value</i> …",
            "what each article posted here shows: title, summary (0 to 5 sentences), "
            "#category, author, source, link, signature, picture, silent posts",
            ('/format summary=2 hashtags=on signature="— The newsroom"', "/format silent=quiet"),
        ),
        CommandDoc(
            "settings",
            "Summaries, language, delivery",
            "",
            "summary length and method, interface language, delivery of subscriptions",
            ("/settings",),
        ),
        CommandDoc(
            "language",
            "Change language (fr, en)",
            "fr|en",
            "the interface language",
            ("/language fr",),
        ),
        CommandDoc(
            "stats",
            "Bot status (admins)",
            "",
            "for the bot's admins: articles, failing feeds, chats, deliveries",
            ("/stats",),
            admin=True,
        ),
        CommandDoc(
            "feeds",
            "Feeds (admins)",
            "[<i>page</i>]",
            "for the bot's admins: the feeds, their state, buttons for each",
            ("/feeds", "/feeds 2"),
            admin=True,
        ),
        CommandDoc(
            "addfeed",
            "Add a feed (admins)",
            "<i>url</i> [<i>category</i>] [<i>language</i>]",
            "for the bot's admins: check, then add an RSS or Atom feed",
            ("/addfeed https://example.org/rss.xml", "/addfeed https://example.org/rss Sport en"),
            admin=True,
        ),
        CommandDoc(
            "delfeed",
            "Remove a feed (admins)",
            "<i>number</i>",
            "for the bot's admins: remove a feed (its articles stay)",
            ("/delfeed 12",),
            admin=True,
        ),
        CommandDoc("help", "Every command", "", "this help", ("/help",)),
        CommandDoc("start", "Welcome", "", "the welcome message", ("/start",)),
    ),
}


MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "welcome": (
            "👋 <b>Bienvenue sur {name} !</b>\n"
            "L’actualité en continu, sans quitter Telegram : les derniers articles par "
            "rubrique, des résumés en quelques phrases et le texte intégral.\n\n"
            "/latest — les derniers articles\n"
            "/categories — les rubriques\n"
            "/search <i>mots</i> — chercher un article\n"
            "/summary <i>numéro</i> — le résumé d’un article\n"
            "/settings — longueur des résumés, langue\n\n"
            "Écrivez simplement quelques mots pour lancer une recherche, ou envoyez un lien "
            "pour le résumer. Toutes les commandes : /help"
        ),
        "help_title": "<b>Commandes</b>",
        "help_footer": (
            "Un message sans commande lance une recherche. Le numéro d’un article est "
            "affiché devant son titre."
        ),
        "latest_title": "📰 <b>Derniers articles</b>",
        "category_title": "📰 <b>{category}</b>",
        "search_title": "🔎 <b>{query}</b>",
        "range_total": "{first}–{last} sur {total}",
        "range": "{first}–{last}",
        "no_articles": "Aucun article pour l’instant : revenez un peu plus tard.",
        "no_articles_category": "Pas encore d’article dans la rubrique {category}.",
        "no_results": (
            "Aucun article ne contient {query}. Essayez d’autres mots, "
            "ou /latest pour les derniers articles."
        ),
        "categories_title": "🗂 <b>Rubriques</b> · {count}",
        "categories_none": "Aucune rubrique pour l’instant : revenez un peu plus tard.",
        "categories_more": "… et {count} autres : <code>/latest rubrique</code>",
        "categories_hint": (
            "Touchez une rubrique pour voir ses derniers articles, 🔔 pour vous y abonner."
        ),
        "summary_title": "📝 <b>Résumé</b> · {length}",
        "summary_none": (
            "Cet article est trop court pour être résumé. Son texte intégral : /full {id}"
        ),
        "page": "page {number}/{count}",
        "settings_title": "⚙️ <b>Réglages</b>",
        "settings_body": (
            "Résumés : <b>{length}</b>, méthode <b>{algorithm}</b>\n"
            "Langue : <b>{language}</b>\n\n"
            "Choisissez ci-dessous la longueur des résumés, la méthode qui choisit les "
            "phrases (default est la nôtre, apprise sur des résumés de journalistes ; lead "
            "prend le début de l’article) et la langue. Un résumé garde des phrases entières, "
            "les meilleures d’abord, dans la limite de mots indiquée."
        ),
        "language_set": "Langue : <b>français</b> ✓",
        "language_choose": "Langue actuelle : <b>{language}</b>. Choisissez :",
        "bad_count": "Le nombre d’articles va de 1 à {max}, par exemple "
        "<code>/latest économie 3</code>.",
        "unknown_category": "Pas de rubrique {name}.",
        "did_you_mean": "Vouliez-vous dire : {names} ?",
        "see_categories": "/categories les liste toutes.",
        "usage_summary": (
            "Usage : /summary <i>numéro</i> [<i>phrases</i>], par exemple "
            "<code>/summary 42</code>. Le numéro est devant le titre dans /latest."
        ),
        "bad_sentences": "Le nombre de phrases va de 1 à {max}, par exemple "
        "<code>/summary {id} 3</code>.",
        "usage_full": (
            "Usage : /full <i>numéro</i>, par exemple <code>/full 42</code>. "
            "Le numéro est devant le titre dans /latest."
        ),
        "article_not_found": "Pas d’article n° {id}. Le numéro est devant le titre dans /latest.",
        "usage_search": (
            "Que cherchez-vous ? Par exemple <code>/search climat</code>, "
            "ou écrivez simplement quelques mots."
        ),
        "usage_language": "Usage : <code>/language fr</code> ou <code>/language en</code>",
        "usage_summarize": (
            "Usage : /summarize <i>lien</i> [<i>phrases</i>], par exemple "
            "<code>/summarize https://www.example.org/article</code>. "
            "Vous pouvez aussi simplement m’envoyer un lien."
        ),
        "help_links": (
            "Envoyez-moi un lien : je lis la page et la résume. Dans n’importe quelle "
            "discussion, tapez <code>@{bot} mots</code> pour y partager un article."
        ),
        "links_disabled": "Les résumés de pages web sont désactivés sur ce bot.",
        "link_rate_limited": "Trop de liens d’un coup : réessayez dans {seconds} s.",
        "link_not_http": "Je ne lis que les liens qui commencent par http:// ou https://.",
        "link_too_long": "Ce lien est trop long : {max} caractères au plus.",
        "link_credentials": (
            "Je ne lis pas les liens qui contiennent un identifiant ou un mot de passe."
        ),
        "link_port": "Je ne lis que les pages web sur le port {ports}.",
        "link_address": (
            "Je ne lis que les pages publiques : ce lien mène à une adresse privée, locale "
            "ou réservée."
        ),
        "link_resolve": "Ce site est introuvable : vérifiez l’adresse.",
        "link_connect": "Le site ne répond pas. Réessayez plus tard.",
        "link_timeout": "La page a mis plus de {seconds} s à arriver : j’abandonne.",
        "link_too_large": "La page est trop lourde pour moi (plus de {size}).",
        "link_content_type": "Ce lien ne mène pas à une page web (HTML ou texte).",
        "link_no_article": "Je ne trouve pas d’article à résumer dans cette page.",
        "link_status": "Le site répond par une erreur (HTTP {status}).",
        "link_redirects": "Ce lien redirige trop de fois : je m’arrête là.",
        "link_bad_response": "La réponse du site est illisible.",
        "unknown_command": "Je ne connais pas la commande {command}. /help les liste toutes.",
        "error": (
            "⚠️ Oups, quelque chose s’est mal passé de notre côté. Réessayez dans un instant."
        ),
        "busy": "⏳ Je suis occupé pour l’instant : réessayez dans un moment.",
        # Plain text (callback query notices and button labels): no markup, no entities.
        "notice_error": "Oups, une erreur. Réessayez dans un instant.",
        "notice_busy": "Occupé pour l’instant : réessayez dans un moment.",
        "notice_gone": "Cet article n’existe plus.",
        "notice_category_gone": "Cette rubrique n’existe plus.",
        "notice_digest_gone": "Cette sélection n’existe plus.",
        "notice_expired": "Ce bouton n’est plus valable. Relancez la commande.",
        "notice_no_more": "Il n’y a pas d’autres articles.",
        "notice_saved": "Enregistré ✓",
        "btn_summary": "{id} · 📝 Résumé",
        "btn_text": "📄 Texte",
        "btn_link": "🔗 Lien",
        "btn_more": "Plus ›",
        "btn_newer": "‹ Plus récents",
        "btn_previous": "‹ Précédent",
        "btn_next": "Suivant ›",
        "btn_full_text": "📄 Texte intégral",
        "btn_back_summary": "📝 Résumé",
        "btn_latest": "📰 Derniers articles",
        "btn_categories": "🗂 Rubriques",
        "btn_settings": "⚙️ Réglages",
        "btn_category": "{name} · {count}",
        "btn_read_in_bot": "📖 Lire dans le bot",
        "sentences_one": "{n} phrase",
        "sentences_other": "{n} phrases",
        # a summary length: at most n whole sentences within about that many words
        "sentences_budget": "≤ {n} phrases, ~{words} mots",
        "articles_one": "{n} article",
        "articles_other": "{n} articles",
        # -- subscriptions and deliveries
        "push_new": "🆕 <b>{category}</b>",
        "digest_title": "📰 <b>Votre sélection du {date}</b> · {count}",
        "digest_empty": "Plus rien à lire ici : ces articles ont été retirés.",
        "digest_gone": "Cette sélection n’est plus disponible.",
        "subscribed": "✅ Abonné à <b>{category}</b> : ses nouveaux articles vous seront envoyés.",
        "subscribed_filters": "Filtres : {filters}",
        "subscribed_hint": "Vos abonnements : /subscriptions · réception : /settings",
        "unsubscribed": "Désabonné de <b>{category}</b>.",
        "unsubscribed_all": "Tous vos abonnements sont supprimés ({count}).",
        "not_subscribed": "Vous n’êtes pas abonné à <b>{category}</b>.",
        "subscriptions_none": (
            "Aucun abonnement. Choisissez une rubrique dans /categories ou écrivez "
            "/subscribe <i>rubrique</i>."
        ),
        "subscriptions_title": "🔔 <b>Vos abonnements</b> ({count})",
        "subscription_inactive": "suspendu",
        "subscription_in_topic": "💬 dans son sujet",
        "usage_subscribe": (
            "Usage : /subscribe <i>rubrique</i> [+mot] [-mot] — par exemple /subscribe "
            "économie +énergie -bourse"
        ),
        "usage_unsubscribe": "Usage : /unsubscribe <i>rubrique</i> ou /unsubscribe all",
        "bad_filter": (
            "« {word} » n’est pas un filtre : écrivez +mot (doit apparaître) ou -mot (ne "
            "doit pas apparaître), sans motif ni ponctuation."
        ),
        "too_many_filters": "{count} filtres au plus par abonnement.",
        "admins_only": (
            "Dans un groupe, seuls ses administrateurs peuvent changer les abonnements et "
            "la réception."
        ),
        "delivery_instant": "📬 Réception : chaque article dès son arrivée.",
        "delivery_digest": "📰 Réception : une sélection par jour à {time} ({zone}).",
        "delivery_quiet": (
            "🌙 Heures calmes : {start}–{end} (les articles sont gardés jusqu’à la fin)."
        ),
        "delivery_quiet_silent": (
            "🌙 Heures calmes : {start}–{end} (les articles arrivent sans notification)."
        ),
        "delivery_paused": "⏸ Réception en pause : /resume pour la reprendre.",
        "usage_digest": (
            "Usage : /digest <i>HH:MM</i> (une sélection par jour à cette heure) ou "
            "/digest off (chaque article dès son arrivée)"
        ),
        "usage_quiet": (
            "Usage : /quiet <i>HH:MM-HH:MM</i> (par exemple /quiet 22:00-07:00) ou /quiet off"
        ),
        "usage_timezone": (
            "Usage : /timezone <i>zone</i>, par exemple /timezone Europe/Paris ou "
            "/timezone America/Montreal"
        ),
        "unknown_timezone": (
            "Fuseau horaire inconnu : {zone}. Exemples : Europe/Paris, Africa/Dakar, "
            "America/Montreal."
        ),
        "timezone_set": "🕰 Fuseau horaire : {zone}.",
        "paused": "⏸ Réception en pause. /resume pour la reprendre.",
        "resumed": "▶️ Réception reprise.",
        "btn_subscribe": "🔔 S’abonner",
        "btn_unsubscribe": "🔕 {category}",
        "btn_unsubscribe_short": "🔕 Se désabonner",
        "btn_longer": "➕ Plus long",
        "btn_open": "📝 {id}",
        "btn_instant": "📬 Au fil de l’eau",
        "btn_digest": "📰 Sélection du jour",
        "btn_quiet_off": "Sans heures calmes",
        "btn_pause": "⏸ Pause",
        "btn_resume": "▶️ Reprendre",
        "notice_subscribed": "Abonné à {category}",
        "notice_unsubscribed": "Désabonné de {category}",
        "notice_admins_only": "Seuls les administrateurs de la discussion peuvent faire cela.",
        # -- post format (/format, the Format page of /settings)
        "post_read": "Lire l’article",
        "format_title": "🖼 <b>Format des publications</b>",
        "format_shown": "Affiché : {fields}",
        "format_nothing": "le minimum (date)",
        "format_summary": "Résumé : {count}",
        "format_signature": "Signature : {signature}",
        "format_no_signature": 'Pas de signature (/format signature="…")',
        "format_picture_photo": "Image : la photo, la publication en légende",
        "format_picture_preview": "Image : grand aperçu du lien au-dessus du texte",
        "format_picture_text": "Image : aucune, texte seul",
        "format_silent_off": "🔔 Publications avec notification",
        "format_silent_always": "🔕 Publications silencieuses",
        "format_silent_quiet": (
            "🌙 Publications silencieuses pendant les heures calmes (au lieu de les garder)"
        ),
        "format_preview": "— <i>Aperçu de la prochaine publication</i> —",
        "format_no_article": "(pas encore d’article pour l’aperçu)",
        "usage_format": (
            "Usage : /format <i>clé</i>=<i>valeur</i> …, clés : title, summary (0 à 5), "
            'hashtags, author, source, link (on|off), signature="…" (200 caractères au '
            "plus, off pour aucune), picture (photo|preview|text), silent (on|off|quiet). "
            'Exemple : /format summary=2 hashtags=on signature="— Rédaction"'
        ),
        "field_title": "titre",
        "field_hashtags": "#rubrique",
        "field_author": "auteur",
        "field_source": "source",
        "field_link": "lien",
        "btn_format": "🖼 Format des publications",
        "btn_back_settings": "⬅️ Réglages",
        "btn_field_title": "Titre",
        "btn_field_hashtags": "#Rubrique",
        "btn_field_author": "Auteur",
        "btn_field_source": "Source",
        "btn_field_link": "Lien",
        "btn_summary_n": "📝 {n}",
        "btn_picture_photo": "🖼 Photo",
        "btn_picture_preview": "🔗 Aperçu",
        "btn_picture_text": "📄 Texte",
        "btn_silent_off": "🔔 Sonores",
        "btn_silent_always": "🔕 Silencieuses",
        "btn_silent_quiet": "🌙 Silencieuses la nuit",
        "topic_closed": (
            "🚫 Le sujet où arrivaient {categories} est fermé ou supprimé : ces abonnements "
            "sont arrêtés (les autres continuent). Un administrateur peut refaire /subscribe "
            "dans un sujet ouvert."
        ),
        # -- admins
        "stats_title": "📊 <b>État du bot</b>",
        "stats_body": (
            "Articles : {articles}\nFlux : {feeds} ({failing} en échec)\nDiscussions : "
            "{chats} ({inactive} désactivées)\nAbonnements : {subscriptions}\nEnvois : "
            "{pending} en attente, {sending} en cours, {sent} envoyés, {failed} en échec"
        ),
        "admins_command": "Cette commande est réservée aux administrateurs du bot.",
        "feed_disabled": "désactivé",
        # -- feeds, for the bot's admins
        "feeds_title": "🗞 <b>Flux</b> ({total}) · page {page}/{pages}",
        "feeds_none": "Aucun flux. Ajoutez-en un avec /addfeed <i>url</i>.",
        "feed_line": "<b>#{id}</b> {name}\n{category} · {state} · {fetched} · {articles}",
        "feed_no_category": "sans rubrique",
        "feed_state_active": "✅ actif",
        "feed_state_new": "🆕 pas encore lu",
        "feed_state_failing": "⚠️ en échec ({count}) : {error}",
        "feed_state_disabled": "⛔ désactivé",
        "feed_state_disabled_error": "⛔ désactivé : {error}",
        "feed_never_fetched": "jamais lu",
        "feed_fetched": "lu le {date} à {time} UTC",
        "feed_articles_one": "{n} article",
        "feed_articles_other": "{n} articles",
        "btn_feed_fetch": "🔄 {id}",
        "btn_feed_enable": "▶️ {id}",
        "btn_feed_disable": "⏸ {id}",
        "btn_feed_remove": "🗑 {id}",
        "btn_feed_remove_confirm": "🗑 Oui, retirer",
        "btn_feed_cancel": "Annuler",
        "feed_remove_confirm": (
            "Retirer le flux <b>#{id}</b> {url} ? Ses articles restent, il ne sera plus lu."
        ),
        "feed_removed": "🗑 Flux #{id} retiré ({url}) ; ses articles restent.",
        "feed_added": "✅ Flux <b>#{id}</b> ajouté : {name}\nRubrique : {category} · {new}.",
        "feed_new_one": "{n} nouvel article enregistré",
        "feed_new_other": "{n} nouveaux articles enregistrés",
        "feed_added_later": "✅ Flux <b>#{id}</b> ajouté : {name}\nRubrique : {category}.",
        "feed_duplicate": "Ce flux existe déjà : #{id}. /feeds pour le voir.",
        "feed_bad_url": "Ce n’est pas une adresse http(s) : {url}",
        "feed_config": "Le flux #{id} vient du fichier de configuration : changez-le là.",
        "feed_not_a_feed": "Cette adresse ne donne pas un flux RSS ou Atom : {reason}",
        "feed_http_error": "Le site a répondu par une erreur HTTP {status}.",
        "feed_unreachable": "Le flux est injoignable ({reason}).",
        "feed_refused": "Cette adresse n’est pas autorisée ({reason}).",
        "usage_addfeed": (
            "Usage : /addfeed <i>url</i> [<i>rubrique</i>] [<i>langue</i>] — par exemple "
            "/addfeed https://exemple.fr/rss.xml Sport fr"
        ),
        "usage_delfeed": "Usage : /delfeed <i>numéro</i> (voir /feeds)",
        "usage_feeds": "Usage : /feeds [<i>page</i>]",
        "no_feed": "Pas de flux #{id}. /feeds les liste.",
        "notice_feed_fetched": "Flux #{id} : {new} nouveau(x), {duplicates} déjà connu(s)",
        "notice_feed_not_modified": "Flux #{id} : rien de nouveau",
        "notice_feed_failed": "Flux #{id} en échec : {error}",
        "notice_feed_busy": "Une lecture est déjà en cours ; réessayez dans un instant.",
        "notice_feed_enabled": "Flux #{id} réactivé",
        "notice_feed_disabled": "Flux #{id} désactivé",
        "notice_feed_off": "Flux #{id} désactivé : réactivez-le d’abord",
        "feed_alert_disabled": (
            "⛔ Le flux <b>#{id}</b> {url} est désactivé après {count} échecs de suite : "
            "{error}\n/feeds pour le réactiver."
        ),
        "feed_alert_recovered": "✅ Le flux <b>#{id}</b> {url} fonctionne de nouveau.",
    },
    "en": {
        "welcome": (
            "👋 <b>Welcome to {name}!</b>\n"
            "The news as it happens, right here in Telegram: the latest articles by category, "
            "summaries in a few sentences and the full text.\n\n"
            "/latest — the latest articles\n"
            "/categories — categories\n"
            "/search <i>words</i> — search the articles\n"
            "/summary <i>number</i> — an article’s summary\n"
            "/settings — summary length, language\n\n"
            "Just type a few words to search, or send a link to have it summarized. "
            "Every command: /help"
        ),
        "help_title": "<b>Commands</b>",
        "help_footer": (
            "A message that is not a command is a search. An article’s number is shown "
            "before its title."
        ),
        "latest_title": "📰 <b>Latest articles</b>",
        "category_title": "📰 <b>{category}</b>",
        "search_title": "🔎 <b>{query}</b>",
        "range_total": "{first}–{last} of {total}",
        "range": "{first}–{last}",
        "no_articles": "No articles yet: check back a little later.",
        "no_articles_category": "No articles in {category} yet.",
        "no_results": (
            "No article contains {query}. Try other words, or /latest for the latest articles."
        ),
        "categories_title": "🗂 <b>Categories</b> · {count}",
        "categories_none": "No categories yet: check back a little later.",
        "categories_more": "… and {count} more: <code>/latest category</code>",
        "categories_hint": "Tap a category to see its latest articles, 🔔 to subscribe to it.",
        "summary_title": "📝 <b>Summary</b> · {length}",
        "summary_none": "This article is too short to summarize. Its full text: /full {id}",
        "page": "page {number}/{count}",
        "settings_title": "⚙️ <b>Settings</b>",
        "settings_body": (
            "Summaries: <b>{length}</b>, method <b>{algorithm}</b>\n"
            "Language: <b>{language}</b>\n\n"
            "Choose below the summary length, the method that picks the sentences (default is "
            "ours, learned from journalists’ abstracts; lead takes the start of the article) and "
            "the language. A summary keeps whole sentences, the best first, within the word "
            "limit shown."
        ),
        "language_set": "Language: <b>English</b> ✓",
        "language_choose": "Current language: <b>{language}</b>. Choose:",
        "bad_count": "The number of articles goes from 1 to {max}, for example "
        "<code>/latest économie 3</code>.",
        "unknown_category": "No category {name}.",
        "did_you_mean": "Did you mean: {names}?",
        "see_categories": "/categories lists them all.",
        "usage_summary": (
            "Usage: /summary <i>number</i> [<i>sentences</i>], for example "
            "<code>/summary 42</code>. The number is shown before the title in /latest."
        ),
        "bad_sentences": "The number of sentences goes from 1 to {max}, for example "
        "<code>/summary {id} 3</code>.",
        "usage_full": (
            "Usage: /full <i>number</i>, for example <code>/full 42</code>. "
            "The number is shown before the title in /latest."
        ),
        "article_not_found": "No article number {id}. The number is shown before the title "
        "in /latest.",
        "usage_search": (
            "What are you looking for? For example <code>/search climate</code>, "
            "or just type a few words."
        ),
        "usage_language": "Usage: <code>/language fr</code> or <code>/language en</code>",
        "usage_summarize": (
            "Usage: /summarize <i>link</i> [<i>sentences</i>], for example "
            "<code>/summarize https://www.example.org/article</code>. "
            "You can also just send me a link."
        ),
        "help_links": (
            "Send me a link: I read the page and summarize it. In any chat, type "
            "<code>@{bot} words</code> to share an article there."
        ),
        "links_disabled": "Web page summaries are turned off on this bot.",
        "link_rate_limited": "Too many links at once: try again in {seconds} s.",
        "link_not_http": "I only read links that start with http:// or https://.",
        "link_too_long": "This link is too long: {max} characters at most.",
        "link_credentials": "I don’t read links that contain a user name or a password.",
        "link_port": "I only read web pages on port {ports}.",
        "link_address": (
            "I only read public pages: this link leads to a private, local or reserved address."
        ),
        "link_resolve": "This site cannot be found: please check the address.",
        "link_connect": "The site does not answer. Please try again later.",
        "link_timeout": "The page took more than {seconds} s to arrive: I gave up.",
        "link_too_large": "The page is too big for me (over {size}).",
        "link_content_type": "This link does not lead to a web page (HTML or text).",
        "link_no_article": "I can’t find an article to summarize in this page.",
        "link_status": "The site answers with an error (HTTP {status}).",
        "link_redirects": "This link redirects too many times: I stopped there.",
        "link_bad_response": "The site’s answer cannot be read.",
        "unknown_command": "I don’t know the command {command}. /help lists them all.",
        "error": "⚠️ Oops, something went wrong on our side. Please try again in a moment.",
        "busy": "⏳ I’m busy right now: please try again in a moment.",
        "notice_error": "Oops, something went wrong. Please try again in a moment.",
        "notice_busy": "Busy right now: please try again in a moment.",
        "notice_gone": "This article no longer exists.",
        "notice_category_gone": "This category no longer exists.",
        "notice_digest_gone": "This digest no longer exists.",
        "notice_expired": "This button has expired. Please run the command again.",
        "notice_no_more": "There are no more articles.",
        "notice_saved": "Saved ✓",
        "btn_summary": "{id} · 📝 Summary",
        "btn_text": "📄 Text",
        "btn_link": "🔗 Link",
        "btn_more": "More ›",
        "btn_newer": "‹ Newer",
        "btn_previous": "‹ Previous",
        "btn_next": "Next ›",
        "btn_full_text": "📄 Full text",
        "btn_back_summary": "📝 Summary",
        "btn_latest": "📰 Latest articles",
        "btn_categories": "🗂 Categories",
        "btn_settings": "⚙️ Settings",
        "btn_category": "{name} · {count}",
        "btn_read_in_bot": "📖 Read in the bot",
        "sentences_one": "{n} sentence",
        "sentences_other": "{n} sentences",
        "sentences_budget": "≤ {n} sentences, ~{words} words",
        "articles_one": "{n} article",
        "articles_other": "{n} articles",
        # -- subscriptions and deliveries
        "push_new": "🆕 <b>{category}</b>",
        "digest_title": "📰 <b>Your digest of {date}</b> · {count}",
        "digest_empty": "Nothing left to read here: these articles were removed.",
        "digest_gone": "This digest is no longer available.",
        "subscribed": "✅ Subscribed to <b>{category}</b>: its new articles will be sent to you.",
        "subscribed_filters": "Filters: {filters}",
        "subscribed_hint": "Your subscriptions: /subscriptions · delivery: /settings",
        "unsubscribed": "Unsubscribed from <b>{category}</b>.",
        "unsubscribed_all": "All your subscriptions are removed ({count}).",
        "not_subscribed": "You are not subscribed to <b>{category}</b>.",
        "subscriptions_none": (
            "No subscriptions. Pick a category in /categories or send /subscribe <i>category</i>."
        ),
        "subscriptions_title": "🔔 <b>Your subscriptions</b> ({count})",
        "subscription_inactive": "suspended",
        "subscription_in_topic": "💬 in its topic",
        "usage_subscribe": (
            "Usage: /subscribe <i>category</i> [+word] [-word] — for example /subscribe "
            "business +energy -stocks"
        ),
        "usage_unsubscribe": "Usage: /unsubscribe <i>category</i> or /unsubscribe all",
        "bad_filter": (
            "“{word}” is not a filter: write +word (must appear) or -word (must not "
            "appear), with no pattern or punctuation."
        ),
        "too_many_filters": "At most {count} filters per subscription.",
        "admins_only": "In a group, only its admins can change the subscriptions and delivery.",
        "delivery_instant": "📬 Delivery: each article as soon as it arrives.",
        "delivery_digest": "📰 Delivery: one digest a day at {time} ({zone}).",
        "delivery_quiet": "🌙 Quiet hours: {start}–{end} (articles are held until they end).",
        "delivery_quiet_silent": (
            "🌙 Quiet hours: {start}–{end} (articles arrive without a notification)."
        ),
        "delivery_paused": "⏸ Delivery paused: /resume to resume it.",
        "usage_digest": (
            "Usage: /digest <i>HH:MM</i> (one digest a day at that time) or /digest off "
            "(each article as it arrives)"
        ),
        "usage_quiet": (
            "Usage: /quiet <i>HH:MM-HH:MM</i> (for example /quiet 22:00-07:00) or /quiet off"
        ),
        "usage_timezone": (
            "Usage: /timezone <i>zone</i>, for example /timezone Europe/London or "
            "/timezone America/New_York"
        ),
        "unknown_timezone": (
            "Unknown time zone: {zone}. Examples: Europe/London, America/New_York, Asia/Tokyo."
        ),
        "timezone_set": "🕰 Time zone: {zone}.",
        "paused": "⏸ Delivery paused. /resume to resume it.",
        "resumed": "▶️ Delivery resumed.",
        "btn_subscribe": "🔔 Subscribe",
        "btn_unsubscribe": "🔕 {category}",
        "btn_unsubscribe_short": "🔕 Unsubscribe",
        "btn_longer": "➕ Longer",
        "btn_open": "📝 {id}",
        "btn_instant": "📬 As they arrive",
        "btn_digest": "📰 Daily digest",
        "btn_quiet_off": "No quiet hours",
        "btn_pause": "⏸ Pause",
        "btn_resume": "▶️ Resume",
        "notice_subscribed": "Subscribed to {category}",
        "notice_unsubscribed": "Unsubscribed from {category}",
        "notice_admins_only": "Only this chat's admins can do that.",
        # -- post format (/format, the Format page of /settings)
        "post_read": "Read the article",
        "format_title": "🖼 <b>Post format</b>",
        "format_shown": "Shown: {fields}",
        "format_nothing": "the minimum (date)",
        "format_summary": "Summary: {count}",
        "format_signature": "Signature: {signature}",
        "format_no_signature": 'No signature (/format signature="…")',
        "format_picture_photo": "Picture: the photo, with the post as its caption",
        "format_picture_preview": "Picture: a large link preview above the text",
        "format_picture_text": "Picture: none, text only",
        "format_silent_off": "🔔 Posts notify",
        "format_silent_always": "🔕 Silent posts",
        "format_silent_quiet": "🌙 Silent posts during quiet hours (instead of holding them)",
        "format_preview": "— <i>Preview of the next post</i> —",
        "format_no_article": "(no article yet for the preview)",
        "usage_format": (
            "Usage: /format <i>key</i>=<i>value</i> …, keys: title, summary (0 to 5), "
            'hashtags, author, source, link (on|off), signature="…" (at most 200 '
            "characters, off for none), picture (photo|preview|text), silent (on|off|quiet). "
            'Example: /format summary=2 hashtags=on signature="— The newsroom"'
        ),
        "field_title": "title",
        "field_hashtags": "#category",
        "field_author": "author",
        "field_source": "source",
        "field_link": "link",
        "btn_format": "🖼 Post format",
        "btn_back_settings": "⬅️ Settings",
        "btn_field_title": "Title",
        "btn_field_hashtags": "#Category",
        "btn_field_author": "Author",
        "btn_field_source": "Source",
        "btn_field_link": "Link",
        "btn_summary_n": "📝 {n}",
        "btn_picture_photo": "🖼 Photo",
        "btn_picture_preview": "🔗 Preview",
        "btn_picture_text": "📄 Text",
        "btn_silent_off": "🔔 Notify",
        "btn_silent_always": "🔕 Silent",
        "btn_silent_quiet": "🌙 Silent at night",
        "topic_closed": (
            "🚫 The topic {categories} went to is closed or deleted: those subscriptions are "
            "stopped (the others go on). An admin can /subscribe again in an open topic."
        ),
        # -- admins
        "stats_title": "📊 <b>Bot status</b>",
        "stats_body": (
            "Articles: {articles}\nFeeds: {feeds} ({failing} failing)\nChats: {chats} "
            "({inactive} deactivated)\nSubscriptions: {subscriptions}\nDeliveries: {pending} "
            "pending, {sending} sending, {sent} sent, {failed} failed"
        ),
        "admins_command": "This command is for the bot's admins.",
        "feed_disabled": "disabled",
        # -- feeds, for the bot's admins
        "feeds_title": "🗞 <b>Feeds</b> ({total}) · page {page}/{pages}",
        "feeds_none": "No feeds. Add one with /addfeed <i>url</i>.",
        "feed_line": "<b>#{id}</b> {name}\n{category} · {state} · {fetched} · {articles}",
        "feed_no_category": "no category",
        "feed_state_active": "✅ active",
        "feed_state_new": "🆕 not fetched yet",
        "feed_state_failing": "⚠️ failing ({count}): {error}",
        "feed_state_disabled": "⛔ disabled",
        "feed_state_disabled_error": "⛔ disabled: {error}",
        "feed_never_fetched": "never fetched",
        "feed_fetched": "fetched {date} at {time} UTC",
        "feed_articles_one": "{n} article",
        "feed_articles_other": "{n} articles",
        "btn_feed_fetch": "🔄 {id}",
        "btn_feed_enable": "▶️ {id}",
        "btn_feed_disable": "⏸ {id}",
        "btn_feed_remove": "🗑 {id}",
        "btn_feed_remove_confirm": "🗑 Yes, remove it",
        "btn_feed_cancel": "Cancel",
        "feed_remove_confirm": (
            "Remove feed <b>#{id}</b> {url}? Its articles stay; it will no longer be fetched."
        ),
        "feed_removed": "🗑 Feed #{id} removed ({url}); its articles stay.",
        "feed_added": "✅ Feed <b>#{id}</b> added: {name}\nCategory: {category} · {new}.",
        "feed_new_one": "{n} new article stored",
        "feed_new_other": "{n} new articles stored",
        "feed_added_later": "✅ Feed <b>#{id}</b> added: {name}\nCategory: {category}.",
        "feed_duplicate": "This feed exists already: #{id}. /feeds shows it.",
        "feed_bad_url": "Not an http(s) address: {url}",
        "feed_config": "Feed #{id} comes from the configuration file: change it there.",
        "feed_not_a_feed": "This address does not serve an RSS or Atom feed: {reason}",
        "feed_http_error": "The site answered with HTTP error {status}.",
        "feed_unreachable": "The feed cannot be reached ({reason}).",
        "feed_refused": "This address is not allowed ({reason}).",
        "usage_addfeed": (
            "Usage: /addfeed <i>url</i> [<i>category</i>] [<i>language</i>] — for example "
            "/addfeed https://example.org/rss.xml Sport en"
        ),
        "usage_delfeed": "Usage: /delfeed <i>number</i> (see /feeds)",
        "usage_feeds": "Usage: /feeds [<i>page</i>]",
        "no_feed": "No feed #{id}. /feeds lists them.",
        "notice_feed_fetched": "Feed #{id}: {new} new, {duplicates} known already",
        "notice_feed_not_modified": "Feed #{id}: nothing new",
        "notice_feed_failed": "Feed #{id} failed: {error}",
        "notice_feed_busy": "A fetch is already running; try again in a moment.",
        "notice_feed_enabled": "Feed #{id} enabled",
        "notice_feed_disabled": "Feed #{id} disabled",
        "notice_feed_off": "Feed #{id} is disabled: enable it first",
        "feed_alert_disabled": (
            "⛔ Feed <b>#{id}</b> {url} is disabled after {count} failures in a row: "
            "{error}\n/feeds to enable it again."
        ),
        "feed_alert_recovered": "✅ Feed <b>#{id}</b> {url} works again.",
    },
}

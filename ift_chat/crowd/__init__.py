"""Crowd rating: rater accounts and roles, task sets with overlap, gold items, agreement.

Typical use::

    python -m ift_chat raters add alice --role admin          # asks for a password
    python -m ift_chat raters invite --uses 20 --hours 48      # token for crowd raters
    python -m ift_chat serve --auth-file users.txt             # login required
    python -m ift_chat tasks create week47 --k 3 --from 2026-11-16 --only-unrated
    python -m ift_chat tasks gold 12 15 31 --answer no
    python -m ift_chat tasks agreement 1

Modules: ``auth`` (scrypt passwords, users file, invites, ``require_admin``),
``tasks`` (task sets, leases, submit), ``view`` (what a rater sees), ``quality``
(gold accuracy, excluded raters), ``agreement`` (Krippendorff's alpha, majority,
per-rater stats), ``limits`` (rate limit, session expiry). The web tabs are
``ift_chat.ui.tasks_tab`` and ``ift_chat.ui.admin_tab``.
"""

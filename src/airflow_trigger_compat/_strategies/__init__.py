"""One module per strategy; the registry (``_registry.STRATEGIES``) says which runs where.

Each module exposes ``execute(operator, context, request)``.
"""

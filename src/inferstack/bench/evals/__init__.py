"""Quality evaluations of a served model over the OpenAI API: tool-call arguments and the
``auto`` decision (:mod:`.tool_calls`), simple factual questions (:mod:`.factual`).

Run them against any server or gateway::

    python -m inferstack.bench.evals.tool_calls --url http://127.0.0.1:8000/v1
    python -m inferstack.bench.evals.factual --url http://127.0.0.1:8000/v1
"""

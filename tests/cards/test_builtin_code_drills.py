"""The deck's code drills run: each self-contained NumPy block is executed on small inputs."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.conf import settings

from cards.deckfile import CardSpec, read_deck
from cards.rendering import RUNNABLE, code_blocks

# A runnable block that imports only these is executed; anything else is only compiled.
SELF_CONTAINED = {"numpy", "math", "collections", "itertools", "functools", "heapq", "re"}

Namespace = dict[str, Any]


def _code_cards() -> list[CardSpec]:
    deck = read_deck(settings.CADENCE_DECK_DIR)
    return [card for topic in deck for card in topic.cards if card.kind == "code"]


def _runnable(card: CardSpec) -> list[str]:
    return [code for lang, flags, code in code_blocks(card.back) if RUNNABLE in flags]


def _imports(code: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def _run(card: CardSpec) -> Namespace:
    namespace: Namespace = {"__name__": f"card_{card.key.replace('-', '_')}"}
    for code in _runnable(card):
        exec(compile(code, card.key, "exec"), namespace)
    return namespace


def _is_self_contained(card: CardSpec) -> bool:
    blocks = _runnable(card)
    return bool(blocks) and all(_imports(code) <= SELF_CONTAINED for code in blocks)


def _reference_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _reference_causal_mha(x: np.ndarray, w: list[np.ndarray], n_heads: int) -> np.ndarray:
    """Per-head loops, no reshapes: the slow, obvious version."""
    w_q, w_k, w_v, w_o = w
    t, d = x.shape
    d_h = d // n_heads
    heads = []
    for h in range(n_heads):
        cols = slice(h * d_h, (h + 1) * d_h)
        q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]
        out = np.zeros((t, d_h))
        for i in range(t):
            weights = _reference_softmax(q[i] @ k[: i + 1].T / np.sqrt(d_h))
            out[i] = weights @ v[: i + 1]
        heads.append(out)
    return np.concatenate(heads, axis=1) @ w_o


def check_softmax_stable(ns: Namespace) -> None:
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0], [-np.inf, 0.0, 0.0]])
    p = ns["softmax"](x)
    assert np.all(np.isfinite(p))
    assert np.allclose(p.sum(axis=-1), 1.0)
    assert np.allclose(p[0], p[1])  # shifting every logit changes nothing
    assert p[2, 0] == 0.0
    assert np.allclose(ns["softmax"](x[:2], axis=0).sum(axis=0), 1.0)


def check_logsumexp_cross_entropy(ns: Namespace) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5))
    targets = np.array([0, 4, 2, -100, 1, -100])
    keep = targets != -100
    naive = -np.log(_reference_softmax(logits[keep])[np.arange(keep.sum()), targets[keep]])
    assert np.isclose(ns["cross_entropy"](logits, targets), naive.mean())
    assert np.isclose(ns["cross_entropy"](np.zeros((3, 7)), np.array([1, 2, 3])), np.log(7))
    assert np.isfinite(ns["cross_entropy"](np.array([[1000.0, -1000.0]]), np.array([1])))
    assert np.allclose(
        ns["logsumexp"](np.array([[0.0, 0.0], [800.0, 800.0]])),
        [np.log(2)] * 2 + np.array([0, 800]),
    )


def check_softmax_ce_backward(ns: Namespace) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 6))
    targets = np.array([0, 5, 2, 2])

    def loss(z: np.ndarray) -> float:
        return float(-np.log(_reference_softmax(z)[np.arange(4), targets]).mean())

    grad = ns["cross_entropy_grad"](logits.copy(), targets)
    numeric = np.zeros_like(logits)
    for i, j in itertools.product(range(4), range(6)):
        step = np.zeros_like(logits)
        step[i, j] = 1e-6
        numeric[i, j] = (loss(logits + step) - loss(logits - step)) / 2e-6
    assert np.allclose(grad, numeric, atol=1e-6)
    assert np.allclose(grad.sum(axis=-1), 0.0)


def check_causal_attention(ns: Namespace) -> None:
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    out = ns["causal_attention"](q, k, v)
    assert out.shape == (5, 3)
    assert np.allclose(out[0], v[0])  # the first token sees only itself
    k2, v2 = k.copy(), v.copy()
    k2[3:], v2[3:] = 9.0, -9.0  # change the future
    assert np.allclose(ns["causal_attention"](q, k2, v2)[:3], out[:3])


def check_mha_forward(ns: Namespace) -> None:
    rng = np.random.default_rng(3)
    b, t, d, h = 2, 5, 8, 2
    x = rng.normal(size=(b, t, d))
    w = [rng.normal(size=(d, d)) / np.sqrt(d) for _ in range(4)]
    out = ns["multi_head_attention"](x, *w, n_heads=h)
    assert out.shape == (b, t, d)
    for i in range(b):
        assert np.allclose(out[i], _reference_causal_mha(x[i], w, h))


def check_kv_cache_decode(ns: Namespace) -> None:
    rng = np.random.default_rng(4)
    t, d, h = 6, 8, 4
    x = rng.normal(size=(t, d))
    w = [rng.normal(size=(d, d)) / np.sqrt(d) for _ in range(4)]
    cache = ns["KVCache"]()
    steps = np.stack([ns["decode_step"](x[i], *w, n_heads=h, cache=cache) for i in range(t)])
    assert np.allclose(steps, _reference_causal_mha(x, w, h))
    assert len(cache.k) == t


def check_rope_apply(ns: Namespace) -> None:
    rng = np.random.default_rng(5)
    rope = ns["rope"]
    q, k = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    assert np.allclose(rope(q, np.array([0])), q)  # position 0 is the identity
    positions = np.arange(7)
    rotated = rope(np.repeat(q, 7, axis=0), positions)
    assert np.allclose(np.linalg.norm(rotated, axis=1), np.linalg.norm(q))

    def score(m: int, n: int) -> float:
        return (rope(q, np.array([m])) @ rope(k, np.array([n])).T).item()

    assert np.isclose(score(5, 2), score(13, 10))  # depends only on m - n
    assert not np.isclose(score(5, 2), score(2, 5))


def check_rmsnorm_swiglu(ns: Namespace) -> None:
    rng = np.random.default_rng(6)
    t, d, f = 3, 6, 16
    x = rng.normal(size=(t, d)) * 5
    gain = np.full(d, 2.0)
    normed = ns["rms_norm"](x, gain)
    assert np.allclose(np.sqrt(np.mean(normed**2, axis=-1)), 2.0, atol=1e-4)
    zero = np.zeros((d, f))
    w_down = rng.normal(size=(f, d))
    assert np.allclose(ns["mlp_sublayer"](x, gain, zero, zero, w_down), x)  # residual only
    out = ns["mlp_sublayer"](x, gain, rng.normal(size=(d, f)), rng.normal(size=(d, f)), w_down)
    assert out.shape == (t, d)


def check_flash_attention_forward(ns: Namespace) -> None:
    rng = np.random.default_rng(7)
    q, k, v = rng.normal(size=(9, 4)), rng.normal(size=(37, 4)), rng.normal(size=(37, 5))
    expected = _reference_softmax(q @ k.T / 2.0) @ v
    for block in (1, 5, 16, 64):
        assert np.allclose(ns["flash_attention"](q, k, v, block=block), expected)
    assert np.allclose(
        ns["flash_attention"](q * 40, k, v, block=4), _reference_softmax(q * 40 @ k.T / 2.0) @ v
    )


def check_top_k_temperature(ns: Namespace) -> None:
    rng = np.random.default_rng(8)
    logits = np.array([0.1, 3.0, -1.0, 2.5, 0.0, 2.9])
    draws = {ns["sample_top_k"](logits, 3, 1.0, rng) for _ in range(300)}
    assert draws == {1, 3, 5}
    assert ns["sample_top_k"](logits, 3, 0, rng) == 1
    assert {ns["sample_top_k"](logits, 1, 2.0, rng) for _ in range(20)} == {1}


def check_top_p(ns: Namespace) -> None:
    rng = np.random.default_rng(9)
    logits = np.log(np.array([0.05, 0.5, 0.15, 0.3]))
    kept = np.isfinite(ns["top_p_filter"](logits, 0.7))
    assert kept.tolist() == [False, True, False, True]  # 0.5 + 0.3 reaches 0.7
    assert np.isfinite(ns["top_p_filter"](logits, 0.4)).tolist() == [False, True, False, False]
    assert np.isfinite(ns["top_p_filter"](logits, 1.0)).all()
    draws = {ns["sample_top_p"](logits, 0.9, rng) for _ in range(300)}
    assert draws == {1, 2, 3}


def check_beam_search(ns: Namespace) -> None:
    bos, eos, vocab = 0, 3, 4
    table = np.log(
        np.array(
            [
                [0.01, 0.45, 0.44, 0.10],
                [0.01, 0.30, 0.30, 0.39],
                [0.01, 0.01, 0.01, 0.97],
                [0.25, 0.25, 0.25, 0.25],
            ]
        )
    )

    def next_logprobs(seq: list[int]) -> np.ndarray:
        return table[seq[-1]]

    # Greedy takes 1 (0.45) and then pays for it; beam search finds 2 then EOS.
    assert ns["beam_search"](next_logprobs, bos, eos, 1, 3)[:2] == [0, 1]
    assert ns["beam_search"](next_logprobs, bos, eos, 2, 3) == [0, 2, 3]

    def normalised(seq: list[int]) -> float:
        return sum(table[a][b] for a, b in itertools.pairwise(seq)) / (len(seq) - 1)

    candidates = []
    for length in range(1, 4):
        for tail in itertools.product(range(vocab), repeat=length):
            seq = [bos, *tail]
            if eos not in seq[1:-1] and (seq[-1] == eos or length == 3):
                candidates.append(seq)
    best = max(candidates, key=normalised)
    assert ns["beam_search"](next_logprobs, bos, eos, 64, 3) == best


def check_response_logprobs(ns: Namespace) -> None:
    rng = np.random.default_rng(10)
    b, t, v = 2, 5, 7
    logits = rng.normal(size=(b, t, v))
    ids = rng.integers(0, v, size=(b, t))
    mask = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 1, 0]])
    logp, response = ns["token_logprobs"](logits, ids, mask)
    assert logp.shape == response.shape == (b, t - 1)
    for i, j in itertools.product(range(b), range(t - 1)):
        assert np.isclose(logp[i, j], np.log(_reference_softmax(logits[i, j])[ids[i, j + 1]]))
    assert response.tolist() == [[0, 1, 1, 1], [1, 1, 1, 0]]


def check_dpo_loss(ns: Namespace) -> None:
    same = np.array([-12.0, -30.0])
    loss, chosen, rejected = ns["dpo_loss"](same, same - 1, same, same - 1)
    assert np.isclose(loss, np.log(2))
    assert np.allclose(chosen, 0)
    assert np.allclose(rejected, 0)
    pi_w, pi_l, ref_w, ref_l = (np.array([v]) for v in (-10.0, -20.0, -12.0, -15.0))
    loss, chosen, rejected = ns["dpo_loss"](pi_w, pi_l, ref_w, ref_l, beta=0.5)
    margin = 0.5 * ((-10 + 12) - (-20 + 15))
    assert np.isclose(loss, -np.log(1 / (1 + np.exp(-margin))))
    assert np.isclose(chosen[0], 1.0)
    assert np.isclose(rejected[0], -2.5)
    assert np.isfinite(
        ns["dpo_loss"](np.array([-1e4]), np.array([0.0]), np.array([0.0]), np.array([0.0]))[0]
    )


def check_gae(ns: Namespace) -> None:
    rng = np.random.default_rng(11)
    rewards, values = rng.normal(size=6), rng.normal(size=6)
    gamma, lam = 0.9, 0.8
    adv, targets = ns["gae"](rewards, values, gamma, lam)
    nxt = np.append(values[1:], 0.0)
    delta = rewards + gamma * nxt - values
    direct = [sum((gamma * lam) ** i * delta[t + i] for i in range(6 - t)) for t in range(6)]
    assert np.allclose(adv, direct)
    assert np.allclose(targets, adv + values)
    mc, _ = ns["gae"](rewards, values, 1.0, 1.0)
    assert np.allclose(mc, np.cumsum(rewards[::-1])[::-1] - values)


def check_ppo_clip_loss(ns: Namespace) -> None:
    loss = ns["ppo_policy_loss"]
    adv = np.array([[1.0, -2.0, 3.0]])
    mask = np.array([[1.0, 1.0, 0.0]])
    old = np.log(np.array([[0.5, 0.5, 0.5]]))
    assert np.isclose(loss(old, old, adv, mask), -(1.0 - 2.0) / 2)  # ratio 1: -mean(A)
    up = old + np.log(2.0)  # every ratio is 2
    assert np.isclose(loss(up, old, adv, mask), -(1.2 * 1.0 + 2.0 * -2.0) / 2)
    down = old + np.log(0.5)  # every ratio is 0.5
    assert np.isclose(loss(down, old, adv, mask), -(0.5 * 1.0 + 0.8 * -2.0) / 2)


def check_bpe_train(ns: Namespace) -> None:
    words = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    assert ns["train_bpe"](words, 3) == [("u", "g"), ("u", "n"), ("h", "ug")]
    assert ns["train_bpe"]({"a": 3}, 5) == []
    assert ns["merge_pair"](("a", "a", "a"), ("a", "a")) == ("aa", "a")


def check_bpe_encode(ns: Namespace) -> None:
    merges = [("u", "g"), ("u", "n"), ("h", "ug")]
    assert ns["bpe_encode"]("hugs", merges) == ["hug", "s"]
    assert ns["bpe_encode"]("bun", merges) == ["b", "un"]
    assert ns["bpe_encode"]("xyz", merges) == ["x", "y", "z"]
    assert ns["bpe_encode"]("", merges) == []


def check_ring_all_reduce(ns: Namespace) -> None:
    rng = np.random.default_rng(12)
    for n in (1, 2, 3, 4, 7):
        data = [rng.normal(size=10) for _ in range(n)]
        for result in ns["ring_all_reduce"](data):
            assert np.allclose(result, np.sum(data, axis=0))


def check_moe_top_k_router(ns: Namespace) -> None:
    rng = np.random.default_rng(13)
    t, d, e = 32, 8, 4
    experts, gates, _ = ns["route"](rng.normal(size=(t, d)), rng.normal(size=(d, e)), k=2)
    assert experts.shape == gates.shape == (t, 2)
    assert np.allclose(gates.sum(axis=-1), 1.0)
    assert np.all(experts[:, 0] != experts[:, 1])
    # One-hot tokens and a sharp identity router: round-robin (balanced) vs all on expert 0.
    balanced = np.eye(e)[np.arange(t) % e]
    skewed = np.eye(e)[np.zeros(t, dtype=int)]
    sharp = np.eye(e) * 50
    assert np.isclose(ns["route"](balanced, sharp, k=1, alpha=0.01)[2], 0.01)
    assert np.isclose(ns["route"](skewed, sharp, k=1, alpha=0.01)[2], 0.01 * e)
    _, top1_gates, _ = ns["route"](balanced, sharp * 0.02, k=1)
    assert np.all(top1_gates < 1.0)  # k=1 keeps the raw probability


CHECKS: dict[str, Callable[[Namespace], None]] = {
    name.removeprefix("check_").replace("_", "-"): check
    for name, check in globals().items()
    if name.startswith("check_")
}
CODE_CARDS = _code_cards()
SELF_CONTAINED_CARDS = [card for card in CODE_CARDS if _is_self_contained(card)]


def test_there_are_code_drills_and_each_has_a_runnable_block() -> None:
    assert len(CODE_CARDS) >= 15
    assert [card.key for card in CODE_CARDS if not _runnable(card)] == []


def test_every_self_contained_drill_has_a_check_and_every_check_a_drill() -> None:
    keys = {card.key.removeprefix("code-") for card in SELF_CONTAINED_CARDS}
    assert keys == set(CHECKS)


@pytest.mark.parametrize("card", SELF_CONTAINED_CARDS, ids=lambda card: card.key)
def test_each_self_contained_drill_runs_and_behaves(card: CardSpec) -> None:
    with np.errstate(over="raise", invalid="raise", divide="ignore"):
        CHECKS[card.key.removeprefix("code-")](_run(card))

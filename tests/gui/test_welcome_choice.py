"""The welcome dialog suggests what this install can run, and what measured fastest here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from app.settings import Settings
from app.ui.suggest import ModelChoice, _qwen_options, model_choices
from app.ui.welcome import WelcomeDialog
from engine import registry
from engine.calibrate import Candidate, Measurement
from engine.machine import MachineInfo

QWEN = "Qwen/Qwen3-Embedding-0.6B"
BF16_CPU = MachineInfo("Linux", "x86_64", "test CPU", 8, 16, frozenset({"avx512_bf16"}), False)
PLAIN_CPU = MachineInfo("Linux", "x86_64", "test CPU", 8, 16, frozenset({"avx2"}), False)


def _options(choices: list[ModelChoice]) -> tuple[ModelChoice, ModelChoice]:
    torch = next(c for c in choices if c.backend == "transformers")
    gguf = next(c for c in choices if c.backend == "llamacpp")
    if not (torch.available and gguf.available):
        pytest.skip("needs both torch and llama-cpp-python installed")
    return torch, gguf


def fake_calibrator(
    torch_speed: float, gguf_speed: float, dtype: str
) -> Callable[..., list[Measurement]]:
    """Two fake measurements, one slow and one fast, as the real calibrator reports them."""

    def run(on_result: Callable[[Measurement], None]) -> list[Measurement]:
        results = [
            Measurement(Candidate("transformers", "cpu", dtype, "", QWEN), torch_speed),
            Measurement(Candidate("llamacpp", "auto", "auto", "/m.gguf", QWEN), gguf_speed),
        ]
        for r in results:
            on_result(r)
        return results

    return run


def test_prior_follows_the_cpu_when_nothing_was_measured() -> None:
    """Native bf16: torch bf16 first (measured 3.9x fp32, ~5x GGUF Q8_0); else GGUF first."""
    bf16 = [c for c in model_choices(kind="cpu", info=BF16_CPU, measured=[]) if c.available]
    plain = [c for c in model_choices(kind="cpu", info=PLAIN_CPU, measured=[]) if c.available]
    if len({c.backend for c in bf16}) < 3:
        pytest.skip("needs both torch and llama-cpp-python installed")
    assert (bf16[0].backend, bf16[0].dtype) == ("transformers", "bfloat16")
    assert plain[0].backend == "llamacpp"
    assert bf16[0].recommended and not any(c.recommended for c in bf16[1:])


def test_choices_this_install_cannot_run_are_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """No llama-cpp-python here: the GGUF option is offered disabled, naming the extra."""
    import app.ui.suggest as suggest

    monkeypatch.setattr(suggest, "installed", lambda module: module != "llama_cpp")
    choices = model_choices(kind="cpu", info=PLAIN_CPU, measured=[])
    gguf = next(c for c in choices if c.backend == "llamacpp")
    assert not gguf.available and not gguf.recommended and "quarry[gguf]" in gguf.note
    assert choices[0].available and choices[0].recommended


@pytest.mark.parametrize(("torch_speed", "gguf_speed", "winner"),
                         [(50.0, 400.0, "llamacpp"), (500.0, 60.0, "transformers")])  # fmt: skip
def test_measure_this_computer_suggests_the_faster_path(
    qtbot: QtBot, torch_speed: float, gguf_speed: float, winner: str
) -> None:
    base = model_choices(kind="cpu", measured=[])
    torch, _ = _options(base)
    dialog = WelcomeDialog(
        Settings(), base, calibrator=fake_calibrator(torch_speed, gguf_speed, torch.dtype)
    )
    qtbot.addWidget(dialog)
    dialog.measure_button.click()
    qtbot.waitUntil(lambda: dialog.measure_button.isEnabled(), timeout=10_000)
    checked = dialog.group.checkedButton()
    assert checked is not None and checked.text().endswith("(suggested)")
    chosen = dialog.choice()
    assert chosen is not None and chosen.backend == winner
    fast = max(torch_speed, gguf_speed)
    assert f"~{fast:,.0f} tokens/s" in dialog.measure_status.text()
    dialog.add_folder("/home/me/Documents")
    assert dialog.result_settings().embed_backend == winner


def test_a_failing_calibration_is_shown_in_the_dialog(qtbot: QtBot) -> None:
    def broken(on_result: Callable[[Measurement], None]) -> list[Measurement]:
        raise RuntimeError("torch exploded")

    dialog = WelcomeDialog(Settings(), model_choices(kind="cpu", measured=[]), calibrator=broken)
    qtbot.addWidget(dialog)
    dialog.measure_button.click()
    qtbot.waitUntil(lambda: dialog.measure_button.isEnabled(), timeout=10_000)
    assert "Measuring failed: RuntimeError: torch exploded" in dialog.measure_status.text()


def test_the_welcome_screen_suggests_the_registry_backend() -> None:
    """One rule: the first Qwen3 option offered is the backend the registry recommends."""
    for kind in ("cuda", "apple", "cpu"):
        for bf16 in (False, True):
            info = BF16_CPU if bf16 else PLAIN_CPU
            first = _qwen_options(kind, info)[0][0]
            assert first == registry.recommended_backend(kind, native_bf16=bf16), (kind, bf16)


def test_both_bundled_models_are_offered_and_the_english_one_can_be_chosen(
    qtbot: QtBot, e5_starter_dir: object, starter_model_dir: object
) -> None:
    """The multilingual starter first; picking the English one by its visible label and
    finishing writes that model's folder into the settings."""
    dialog = WelcomeDialog(Settings(), model_choices(kind="cpu", info=PLAIN_CPU, measured=[]))
    qtbot.addWidget(dialog)
    dialog.show()
    labels = [b.text() for b in dialog.group.buttons()]
    bundled = [t for t in labels if t.startswith("Bundled starter model")]
    assert [t.split("(")[1].split(")")[0] for t in bundled] == [
        "multilingual-e5-small",
        "all-MiniLM-L6-v2",
    ]
    english = next(b for b in dialog.group.buttons() if "all-MiniLM-L6-v2" in b.text())
    english.click()
    assert "English only" in dialog.download.text()
    dialog.add_folder("/home/me/Documents")
    settings = dialog.result_settings()
    assert settings.embed_model == str(starter_model_dir) and settings.embed_backend == "numpy"

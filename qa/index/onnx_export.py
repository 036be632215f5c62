"""Making the ONNX graphs that ``qa.index.onnx_encoder`` runs: the model exported once (fp32,
with PyTorch), and that graph quantized to int8 with ONNX Runtime's own tool.

Also the two things both need from the model's folder: whether it is a model the
export handles (a transformer, mean pooling, optional normalisation, no prompts) and
its fast tokenizer, set to cut and pad as sentence-transformers does. Checking a graph
against a reference, and where graphs are kept, is the embedder's job.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

from qa.index.embedder import ModelError

# Only the matrix products are quantized, weights per output channel (a scale per
# column): on the bundled model, cosine to the fp32 vectors is 0.985 at worst and
# 0.994 on average over 730 real sentences and passages, against 0.905 / 0.961 with
# one scale per tensor; quantizing the embedding table (Gather) too was slower (0.52x
# of fp32's time against 0.38-0.40x) and no closer. Bump QUANTIZATION_VERSION on any
# change here: the int8 file name and the int8 encoder's fingerprint carry it.
QUANTIZED_OPS = ("MatMul",)
QUANTIZATION_VERSION = 1

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def plain_model_config(folder: Path) -> dict[str, Any]:
    """What the export needs from the model's files, or ``ModelError`` if it is not a
    transformer with mean pooling (and optional normalisation) and no prompts."""

    def read(name: str) -> dict[str, Any]:
        path = folder / name
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{path} is missing or unreadable ({exc}): QA_ENCODER=onnx needs a "
                "sentence-transformers model folder; use QA_ENCODER=torch."
            ) from None
        return value if isinstance(value, dict) else {"modules": value}

    modules = read("modules.json")["modules"]
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling_folder = next(
        (m.get("path", "") for m in modules if "Pooling" in m.get("type", "")), ""
    )
    pooling = read(f"{pooling_folder}/config.json") if pooling_folder else {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    prompts: dict[str, Any] = {}
    if (folder / "config_sentence_transformers.json").is_file():
        prompts = read("config_sentence_transformers.json").get("prompts") or {}
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or set(kinds[2:]) - {"Normalize"}
        or modes != ["pooling_mode_mean_tokens"]
        or any(prompts.values())
    ):
        raise ModelError(
            f"{folder}: QA_ENCODER=onnx handles a transformer with mean pooling and no "
            f"prompts; this model has {' + '.join(kinds)} ({', '.join(modes)}). Use "
            "QA_ENCODER=torch."
        )
    limit = 512
    if (folder / "sentence_bert_config.json").is_file():
        limit = int(read("sentence_bert_config.json").get("max_seq_length") or limit)
    special = read("tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    pad_token = str(special.get("pad_token") or "[PAD]")
    try:
        dimension = int(pooling["word_embedding_dimension"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"{folder}: the pooling configuration gives no word_embedding_dimension ({exc}). "
            "Use QA_ENCODER=torch."
        ) from None
    return {"dimension": dimension, "max_length": limit, "pad_token": pad_token}


def load_tokenizer(folder: Path, config: dict[str, Any]) -> Any:
    """The model's own fast tokenizer, cut and padded as sentence-transformers does."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception for a missing file
        raise ModelError(
            f"{folder}: QA_ENCODER=onnx needs the model's tokenizer.json "
            f"({type(exc).__name__}: {exc}). Use QA_ENCODER=torch."
        ) from None
    pad_id = tokenizer.token_to_id(config["pad_token"])
    tokenizer.enable_truncation(max_length=int(config["max_length"]))
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=config["pad_token"])
    return tokenizer


def export_graph(model: Any, path: Path) -> None:
    """Write the transformer, mean pooling over real tokens and L2 normalisation (what
    sentence-transformers computes) as one ONNX graph with dynamic batch and length."""
    import torch

    transformer = model[0].auto_model

    class PooledTransformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    preprocess = getattr(model, "preprocess", None) or model.tokenize  # 5.x: tokenize
    features = preprocess(["probe"])
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the tracer's warnings are about other inputs
        torch.onnx.export(
            PooledTransformer().eval(),
            tuple(features[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def quantize_graph(source: Path, target: Path) -> None:
    """Write ``source`` (an fp32 graph) to ``target`` with int8 weights, quantized
    dynamically (activations at run time) by ``onnxruntime.quantization``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It advises, on the root logger, a pre-processing step that does not apply here
    # (its shape inference cannot follow the exported attention): said once per export.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
    finally:
        logging.disable(previous)

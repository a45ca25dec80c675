"""`model` settings: which model, and the sizes of its blocks and embedding tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtlrec.checks import at_least
from mtlrec.layout import ContextField
from mtlrec.schema import CATEGORY_ID, ITEM_ID, USER_ID

# the id column -> the setting of its embedding table's rows
BUCKETS = {USER_ID: "user_buckets", ITEM_ID: "item_buckets", CATEGORY_ID: "category_buckets"}


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mmoe"  # single_task, shared_bottom, mmoe, ple, esmm, aitm
    embedding_dim: int = 16
    hidden_dims: tuple[int, ...] = (64,)  # bottom MLP (shared_bottom, esmm, aitm), per-task MLP (single_task)
    num_experts: int = 4  # shared experts (mmoe, ple)
    specific_experts: int = 1  # per-task experts in each PLE level
    ple_levels: int = 2  # PLE extraction levels
    expert_dims: tuple[int, ...] = (64, 32)
    tower_dims: tuple[int, ...] = (16,)
    dropout: float = 0.1
    # BatchNorm after each hidden Linear of the MLPs (experts, towers, bottoms), as
    # torch-rechub's MLP has it
    batch_norm: bool = False
    # pairwise dot products of the id embeddings, into the MLP input and, by a linear
    # term per task, straight into each logit (DeepFM): preference is a user-item inner
    # product, which an MLP on concatenated embeddings learns slowly
    dot_interaction: bool = True
    # std of the normal the embedding rows start from: a row of an id seen a few times
    # keeps most of its start, so a wide start is noise the towers can memorise
    embedding_init_std: float = 0.05
    embedding_max_rows: int = 0  # cap on rows per table (0: one row per bucket)
    embedding_overflow_rows: int = 64  # hashed rows for indexes beyond the table
    # rows of each id table: 0 follows the vocabulary `features` built (plus
    # `embedding_headroom` for ids appended later); a number caps the table there
    user_buckets: int = 0
    item_buckets: int = 0
    category_buckets: int = 0
    embedding_headroom: float = 0.1
    # resolved by train from what `features` built, not set by hand: the context fields
    # the model reads (`layout.ContextField`) and the rows of each categorical one's table
    context: tuple[ContextField, ...] = ()
    context_buckets: dict[str, int] = field(default_factory=dict)

    def buckets(self, source: str) -> int:
        """Embedding rows of the id column `source` (user_id, item_id, category_id, or a
        categorical context field); 0: not resolved yet."""
        key = BUCKETS.get(source)
        return getattr(self, key) if key else self.context_buckets.get(source, 0)

    def setting(self, source: str) -> str:
        """The setting that holds the rows of `source`'s table, for messages."""
        return f"model.{BUCKETS[source]}" if source in BUCKETS else f"model.context_buckets.{source}"

    def checks(self) -> list[tuple[bool, str]]:
        from mtlrec.models.registry import MODELS  # the registry imports the models, which import this

        return [
            (self.name in MODELS, f"model.name must be one of {sorted(MODELS)}, got {self.name!r}"),
            *at_least("model", self, ("embedding_dim", "num_experts", "specific_experts", "ple_levels")),
            *[
                (getattr(self, key) >= 0, f"model.{key} must be >= 0 (0: from the vocabulary)")
                for key in BUCKETS.values()
            ],
            (self.embedding_headroom >= 0.0, "model.embedding_headroom must be >= 0"),
            *[
                (min(getattr(self, name), default=1) >= 1, f"model.{name}: every layer size must be >= 1")
                for name in ("hidden_dims", "expert_dims", "tower_dims")
            ],
            (len(self.expert_dims) > 0, "model.expert_dims must name at least one layer"),
            (self.embedding_init_std > 0.0, "model.embedding_init_std must be > 0"),
            (self.embedding_max_rows >= 0, "model.embedding_max_rows must be >= 0 (0: no cap)"),
            (0.0 <= self.dropout < 1.0, "model.dropout must be in [0, 1)"),
            (
                self.embedding_max_rows == 0 or self.embedding_max_rows > self.embedding_overflow_rows,
                "model.embedding_max_rows must be 0 or exceed model.embedding_overflow_rows",
            ),
            (self.embedding_overflow_rows >= 0, "model.embedding_overflow_rows must be >= 0"),
        ]

"""Authentication centre maths, pure: MILENAGE (TS 35.205/35.206), the 3GPP KDF and KASME (TS 33.220 Annex B.2,
TS 33.401 Annex A.2), SQN handling and resynchronisation (TS 33.102 §6.3.5, Annex C), and authentication vectors
(E-UTRAN, UMTS, GERAN). No I/O, no logging; RAND always comes from the caller."""

from auc.errors import AucError, AutsError
from auc.kdf import kasme, kdf, parse_plmn_id, plmn_id, plmn_id_from_string
from auc.milenage import Milenage, MilenageOutput, opc
from auc.sqn import (
    DEFAULT_IND_BITS,
    SQN_MAX,
    make_sqn,
    next_seq_after_resync,
    resync,
    split_sqn,
    sqn_bytes,
    sqn_from_bytes,
)
from auc.vectors import (
    EutranVector,
    GeranVector,
    UmtsVector,
    c2,
    c3,
    generate_eutran_vector,
    generate_eutran_vectors,
    generate_geran_vector,
    generate_umts_vector,
    geran_from_umts,
)

__all__ = [
    "DEFAULT_IND_BITS",
    "SQN_MAX",
    "AucError",
    "AutsError",
    "EutranVector",
    "GeranVector",
    "Milenage",
    "MilenageOutput",
    "UmtsVector",
    "c2",
    "c3",
    "generate_eutran_vector",
    "generate_eutran_vectors",
    "generate_geran_vector",
    "generate_umts_vector",
    "geran_from_umts",
    "kasme",
    "kdf",
    "make_sqn",
    "next_seq_after_resync",
    "opc",
    "parse_plmn_id",
    "plmn_id",
    "plmn_id_from_string",
    "resync",
    "split_sqn",
    "sqn_bytes",
    "sqn_from_bytes",
]

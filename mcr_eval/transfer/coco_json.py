"""Check a COCO instances file before a detection run reads it (COCO format, Lin et al. 2014).

MMDetection's ``CocoDataset`` (through pycocotools) reads the file only when the first dataloader is built,
and a truncated or foreign file then ends the run with a JSON traceback, or a ``KeyError`` deep inside
the API. This check reads the file once, up front, and names the file and what is wrong with it: invalid
JSON, a top level that is not an object, or ``images`` / ``annotations`` / ``categories`` that are missing
or not lists.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcr_train.errors import DataError

REQUIRED_LISTS = ("images", "annotations", "categories")


def check_coco_instances(path: str | Path) -> dict:
    """The parsed document of a COCO instances file; a :class:`DataError` naming the file otherwise."""
    path = Path(path)
    fix = "re-export it or restore the original (COCO instances: an object with images, annotations, categories)"
    try:
        with open(path, "rb") as handle:
            doc = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(f"annotation file '{path}' is not valid JSON ({exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}); {fix}") from None
    except UnicodeDecodeError:
        raise DataError(f"annotation file '{path}' is not UTF-8 JSON text; {fix}") from None
    except OSError as exc:
        raise DataError(f"cannot read annotation file '{path}' ({exc.strerror}); check the path and its "
                        "permissions") from None
    if not isinstance(doc, dict):
        raise DataError(f"annotation file '{path}' holds a JSON {type(doc).__name__}, not an object; {fix}")
    missing = [key for key in REQUIRED_LISTS if key not in doc]
    if missing:
        raise DataError(f"annotation file '{path}' has no {', '.join(repr(k) for k in missing)} "
                        f"{'entry' if len(missing) == 1 else 'entries'}; {fix}")
    wrong = [key for key in REQUIRED_LISTS if not isinstance(doc[key], list)]
    if wrong:
        raise DataError(f"annotation file '{path}': {', '.join(repr(k) for k in wrong)} must be a list; {fix}")
    return doc

"""Image-folder datasets: ImageNet / ImageNet-100 / any ImageFolder, and Tiny-ImageNet."""

from __future__ import annotations

from pathlib import Path

from mcr_train.data.base import FileImageDataset, Transform, require_dir, require_file
from mcr_train.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
FOLDER_LAYOUT = "ROOT/{train,val}/<class>/<image>.jpg (ImageFolder); ?classes=FILE keeps a class subset"
TINY_LAYOUT = ("ROOT/train/<wnid>/images/*.JPEG, ROOT/val/images/*.JPEG and ROOT/val/val_annotations.txt "
               "(the official tiny-imagenet-200 layout)")
_SPLIT_DIRS = {"train": ("train",), "test": ("val", "test"), "val": ("val",)}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_class_subset(path: Path) -> list[str]:
    require_file(path, "class subset", "a text file with one class folder name (e.g. a wnid) per line")
    names = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"class subset file {path} is empty; list one class folder name per line")
    return names


def load_image_folder(name: str, root: Path | None, split: str, transform: Transform = None,
                      classes_file: Path | None = None) -> FileImageDataset:
    if root is None:
        raise DataError(f"{name} needs a root: --data {name}:ROOT with {FOLDER_LAYOUT}")
    root = Path(root)
    require_dir(root, name, FOLDER_LAYOUT)
    if split not in _SPLIT_DIRS:
        raise DataError(f"{name} has splits ['test', 'train', 'val'], not {split!r}")
    split_dir = next((root / d for d in _SPLIT_DIRS[split] if (root / d).is_dir()), None)
    if split_dir is None:
        raise DataError(f"{name}: no {'/'.join(_SPLIT_DIRS[split])} folder under {root}; expected {FOLDER_LAYOUT}")
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    if classes_file is not None:
        wanted = read_class_subset(Path(classes_file))
        missing = sorted(set(wanted) - set(classes))
        if missing:
            raise DataError(f"{name}: {len(missing)} classes of {classes_file} are not folders of {split_dir} "
                            f"(e.g. {missing[0]}); check the subset file against the dataset")
        classes = sorted(wanted)
    paths, targets = [], []
    for label, cls in enumerate(classes):
        files = _images_in(split_dir / cls)
        paths += files
        targets += [label] * len(files)
    if not paths:
        raise DataError(f"{name}: no images found under {split_dir}; expected {FOLDER_LAYOUT}")
    return FileImageDataset(paths, targets, classes, name, transform)


def load_tiny_imagenet(root: Path | None, split: str, transform: Transform = None) -> FileImageDataset:
    if root is None:
        raise DataError(f"tiny-imagenet needs a root: --data tiny-imagenet:ROOT with {TINY_LAYOUT}")
    root = Path(root)
    if (root / "tiny-imagenet-200").is_dir():
        root = root / "tiny-imagenet-200"
    train_dir = require_dir(root / "train", "tiny-imagenet", TINY_LAYOUT)
    wnids_file = root / "wnids.txt"
    classes = (read_class_subset(wnids_file) if wnids_file.is_file()
               else sorted(d.name for d in train_dir.iterdir() if d.is_dir()))
    classes = sorted(classes)
    index = {c: i for i, c in enumerate(classes)}
    paths, targets = [], []
    if split == "train":
        for cls in classes:
            files = _images_in(train_dir / cls / "images")
            paths += files
            targets += [index[cls]] * len(files)
    elif split in ("test", "val"):
        val_dir = require_dir(root / "val", "tiny-imagenet", TINY_LAYOUT)
        notes = require_file(val_dir / "val_annotations.txt", "tiny-imagenet", TINY_LAYOUT)
        for line_no, line in enumerate(notes.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2 or parts[1] not in index:
                raise DataError(f"tiny-imagenet: {notes} line {line_no} is not 'file<TAB>wnid<TAB>box' with a "
                                "known wnid; the file is corrupt")
            paths.append(val_dir / "images" / parts[0])
            targets.append(index[parts[1]])
    else:
        raise DataError(f"tiny-imagenet has splits ['test', 'train', 'val'], not {split!r}")
    if not paths:
        raise DataError(f"tiny-imagenet: no {split} images under {root}; expected {TINY_LAYOUT}")
    return FileImageDataset(paths, targets, classes, "tiny-imagenet", transform)

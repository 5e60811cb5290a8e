"""Base weights that OpenCLIP fetches on first use: status, download with progress, and no network."""

from __future__ import annotations

import io

import pytest

from aesthetic_curator.engine.base_weights import base_weights_status, download_base_weights, read_weights_file
from aesthetic_curator.engine.scorer import ScorerSpec
from aesthetic_curator.errors import BundleError

HUB_SPEC = ScorerSpec("ViT-B-32", "laion2b_s34b_b79k")


def test_embedded_base_needs_no_download(test_bundle):
    status = base_weights_status(test_bundle.spec)
    assert not status.needed and status.cached and "inside the bundle" in status.description


def test_status_reads_the_hub_cache(monkeypatch, tmp_path):
    import huggingface_hub

    cached = {"value": None}
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name, cache_dir: cached["value"])
    status = base_weights_status(HUB_SPEC)
    assert status.needed and not status.cached and "not downloaded yet" in status.description
    cached["value"] = str(tmp_path / "weights.safetensors")
    assert base_weights_status(HUB_SPEC).cached


def test_download_reports_bytes_and_without_network_says_so(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *args, **kwargs: None)
    seen = []

    def fake_download(repo, name, cache_dir, tqdm_class):
        bar = tqdm_class(total=1000, file=io.StringIO())
        for _ in range(4):
            bar.update(250)
        bar.close()
        return "/somewhere"

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    download_base_weights(HUB_SPEC, progress=seen.append)
    assert [p.done for p in seen] == [250, 500, 750, 1000] and seen[-1].total == 1000

    def offline(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(BundleError, match="Connect to the internet"):
        download_base_weights(HUB_SPEC)


@pytest.mark.parametrize("content", [b"", b"garbage, not weights", b"PK\x03\x04 a broken zip"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors", ".bin"])
def test_bad_base_weights_files_are_one_clear_error(tmp_path, content, suffix):
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(content)
    with pytest.raises(BundleError, match="not a readable weights file"):
        read_weights_file(path)


def test_a_weights_file_that_is_not_a_state_dict_is_refused(tmp_path):
    import torch

    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(BundleError, match="no state dict"):
        read_weights_file(path)

"""The captioned shapes dataset, caption adherence, the PNG writer and the text encoder."""
import math

import numpy as np
import pytest
import torch

from genspec.accelerated.data.shapes import (
    CAPTIONS,
    COLORS,
    SHAPES,
    caption_adherence,
    caption_scores,
    read_caption,
    shape_mask,
    shapes_dataset,
)
from genspec.accelerated.models.text import ByteTextEncoder, ByteTokenizer, TextConfig, TextEncoder
from genspec.accelerated.pictures.grids import image_grid, read_image, save_gif, save_image, tile


def test_dataset_shapes_range_and_determinism():
    a, b, c = shapes_dataset(64, seed=3), shapes_dataset(64, seed=3), shapes_dataset(64, seed=4)
    assert a.images.shape == (64, 3, 32, 32) and a.images.dtype == torch.float32
    assert set(a.images.unique().tolist()) <= {-1.0, 1.0}
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert not torch.equal(a.images, c.images)
    names_c, names_s = list(COLORS), list(SHAPES)
    assert a.captions == [f"{names_c[i]} {names_s[j]}" for i, j in zip(a.color.tolist(), a.shape.tolist(), strict=True)]
    assert len(CAPTIONS) == len(COLORS) * len(SHAPES) == 12


def test_fill_ratios_of_the_masks():
    """The statistic the metric reads: circle π/4, square 1, triangle 1/2 of the bounding box (large shapes)."""
    n, size = 1, 256
    c, r = torch.tensor([128.0]), torch.tensor([100.0])
    for k, want in enumerate([math.pi / 4, 1.0, 0.5]):
        m = shape_mask(k, c, c, r, size)[0]
        rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert abs(float(m.sum() / box) - want) < 0.01
    assert n == 1


def test_adherence_reads_the_data_back_and_rejects_wrong_captions():
    d = shapes_dataset(600, seed=1)
    assert caption_adherence(d.images, d.captions) == 1.0
    wrong = [CAPTIONS[(CAPTIONS.index(s) + 1) % 12] for s in d.captions]       # a different caption each
    assert caption_adherence(d.images, wrong) == 0.0
    scores = caption_scores(d.images, wrong)   # the next caption: another shape, the same colour for 2 shapes in 3
    assert scores["joint"] == 0.0 and scores["shape"] == 0.0 and 0.55 < scores["colour"] < 0.78
    shuffled = [d.captions[i] for i in torch.randperm(600, generator=torch.Generator().manual_seed(0)).tolist()]
    assert 0.03 < caption_adherence(d.images, shuffled) < 0.16                    # chance is 1/12
    blank = -torch.ones(2, 3, 32, 32)
    assert caption_adherence(blank, d.captions[:2]) == 0.0
    assert read_caption(blank)[0].tolist() == [-1, -1]
    noise = torch.rand(300, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert caption_adherence(noise, d.captions[:300]) < 0.2
    with pytest.raises(ValueError):
        caption_adherence(d.images[:3], d.captions[:2])


def test_images_are_written_as_images_and_read_back(tmp_path):
    """tile + Pillow: the PNG holds exactly the tiled pixels (lossless), ×scale by pixel repetition; a video's GIF
    has its first frame."""
    d = shapes_dataset(6)
    g = tile(d.images, rows=2)
    assert g.shape == (2 * (32 + 2) + 2, 3 * (32 + 2) + 2, 3)
    save_image(str(tmp_path / "g.png"), d.images, rows=2)
    assert np.array_equal(read_image(str(tmp_path / "g.png")), g)
    save_image(str(tmp_path / "g2.png"), g, scale=2)
    assert np.array_equal(read_image(str(tmp_path / "g2.png")), g.repeat(2, axis=0).repeat(2, axis=1))
    save_gif(str(tmp_path / "v.gif"), d.images[:3], scale=1)
    first = read_image(str(tmp_path / "v.gif")).astype(int)
    assert first.shape == (32, 32, 3)
    assert np.abs(first - g[2:34, 2:34].astype(int)).max() <= 8         # GIF's palette quantisation


def test_a_labelled_grid_is_a_figure_around_the_samples(tmp_path):
    """image_grid writes a matplotlib figure: larger than the tiled samples (labels, title), with the samples' colours
    in it (a saturated red shape stays red)."""
    d = shapes_dataset(8)
    path = str(tmp_path / "grid.png")
    image_grid(path, d.images, ["w = 0", "w = 4"], [str(i) for i in range(4)], title='"a caption"',
               row_title="guidance weight", col_title="sample")
    img = read_image(path)
    raw = tile(d.images, rows=2)
    assert img.shape[0] > raw.shape[0] and img.shape[1] > raw.shape[1]
    assert img.std() > 10                                                 # not a blank page


def test_tokenizer_and_text_encoder():
    tok = ByteTokenizer(8)
    ids, mask = tok(["ab", "abcdefghij"])
    assert ids[0].tolist() == [257, 97, 98, 258, 256, 256, 256, 256]
    assert mask[0].tolist() == [True] * 4 + [False] * 4
    assert ids[1, -1] == 258 and mask[1].all()                                  # truncated, EOS kept
    torch.manual_seed(0)
    enc = ByteTextEncoder(TextConfig(width=32, depth=1, heads=2, max_len=16))
    assert isinstance(enc, TextEncoder)
    out = enc(["red circle", "blue", ""])
    assert out.tokens.shape == (3, 16, 32) and out.pooled.shape == (3, 32) and out.mask.shape == (3, 16)
    # the pooled vector and the real tokens do not depend on the padding
    one = enc(["blue"])
    assert torch.allclose(one.pooled[0], out.pooled[1], atol=1e-5)
    assert torch.allclose(one.tokens[0, :6], out.tokens[1, :6], atol=1e-5)


def test_transformers_text_model_satisfies_the_protocol():
    transformers = pytest.importorskip("transformers")
    from genspec.accelerated.models.text import HFTextEncoder

    cfg = transformers.CLIPTextConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, max_position_embeddings=16)
    model = transformers.CLIPTextModel(cfg).eval()

    class Tok:        # a byte tokenizer with the transformers call signature (nothing downloaded)
        def __call__(self, texts, padding, truncation, max_length, return_tensors):
            ids, mask = ByteTokenizer(max_length)(texts)
            return {"input_ids": ids.clamp(max=299), "attention_mask": mask.long()}

    enc = HFTextEncoder(model, Tok(), max_len=16)
    assert isinstance(enc, TextEncoder)
    out = enc(["red circle", "blue"])
    assert out.tokens.shape == (2, 16, 32) and out.pooled.shape == (2, 32)

"""Clauses of latent diffusion's sizes (sources 00, 03): latent shapes, value and spatial ratios, token counts.

⚠ 03 says the 256×256×3 → 32×32×16 encoder is "a 48× compression in spatial dimensions" and that each step
"processes only 16,384 dimensions instead of 786,432". The arithmetic: 256·256·3 = 196,608 values → 32·32·16 = 16,384
is 12× fewer values and (256/32)² = 64× fewer spatial positions; 786,432 = 512·512·3 is a 512² image, whose latent
is 64·64·16 = 65,536 (again 12×). 48 = 786,432 / 16,384 compares a 512² image with a 256² image's latent.
"""
from .schema import Clause, Domain, Provenance, Symbol, tolerances

P = Provenance
SIZE = Domain(kind="integer", low=1, high=2**20)

CLAUSES = [
    Clause(
        id="ldm.shapes",
        title="Latent sizes: H×W×C pixels → (H/f)×(W/f)×c latents, ratios, tokens and per-run work",
        statement=(r"h = H/f,\ w = W/f;\quad \frac{HWC}{hwc} = \frac{f^2 C}{c},\quad \frac{HW}{hw} = f^2,\quad "
                   r"N_{tok} = \frac{h w}{p^2},\quad \text{work} = S \cdot \text{values}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="The encoder maps a 256×256×3 image to a 32×32×16 latent. That's a 48× "
                                         "compression in spatial dimensions."),
                    P(source="03", quote="each step processes only 16,384 dimensions instead of 786,432"),
                    P(source="03", quote="A 512×512×3 image has 786,432 dimensions."),
                    P(source="03", quote="At 50 steps, that's 39 million pixel operations."),
                    P(source="03", quote="Latent size: 128×128×4 (for 1024×1024 output)."),
                    P(source="03", quote="VAE: 16 latent channels, 8× spatial downsampling."),
                    P(source="00", quote="latent: $32 \\times 32 \\times 16$")),
        function="latent_shapes",
        symbols=(Symbol(name="H", description="image height, a multiple of f·p", domain=SIZE, role="parameter"),
                 Symbol(name="W", description="image width, a multiple of f·p", domain=SIZE, role="parameter"),
                 Symbol(name="C", description="image channels (3)", domain=SIZE, role="parameter"),
                 Symbol(name="f", description="spatial downsampling factor (8)", domain=SIZE, role="parameter"),
                 Symbol(name="c", description="latent channels (4 or 16)", domain=SIZE, role="parameter"),
                 Symbol(name="p", description="the denoiser's patch size (DiT/2: 2)", domain=SIZE, role="parameter"),
                 Symbol(name="steps", description="S, sampling steps (50)", domain=SIZE, role="parameter"),
                 Symbol(name="sizes", description="dict: latent (h, w, c), pixel_values, latent_values, value_ratio, "
                                                  "spatial_ratio, tokens, pixel_work, latent_work", role="output")),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="integer arithmetic and ratios of integers: exact (the outputs are not in the run's "
                                 "dtype)"),
        singular="None: H or W not a multiple of f·p is a SpecInputError (no padding).",
        notes=("⚠ 03's '48× compression in spatial dimensions' and '16,384 instead of 786,432' are corrected: "
               "256×256×3 = 196,608 → 32×32×16 = 16,384 values is 12× (f²C/c = 64·3/16), and 64× fewer spatial "
               "positions (f² = 64); 786,432 = 512×512×3, whose latent is 64×64×16 = 65,536 (also 12×); 48 = "
               "786,432/16,384 mixes the two resolutions. 50 steps × 786,432 = 39,321,600 ≈ 39.3M (03's '39 "
               "million'). 1024² with f = 8, c = 4 → 128×128×4 (03's SDXL row), 4,096 tokens at patch 2; with 03's "
               "FLUX row (16 channels, 8×, patch 2) 1024² → 128×128×16, also 4,096 tokens."),
    ),
]

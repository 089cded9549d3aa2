# The bundled models' training recipe, one copy for train-default.sh (CPU) and train-gpu.sh (GPU,
# from the bundle). Sourced; defines arrays of `tessera train` options, each a pair
# "--option value" (train-gpu.sh replaces a pair by an option given after its --).
#
# The model: base 32, two levels of downsampling (32 -> 16 -> 8 on the 32 px crops), attention
# at 8x8, circular padding so results tile, cosine schedule, v prediction, min-SNR weighting.
# shellcheck disable=SC2034  # used by the scripts that source this file
recipe=(--res 32 --base 32 --mult 1,2,2 --res-blocks 2 --attn 8 --heads 4 --groups 8 --padding circular
  --schedule cosine --prediction v --batch 8 --lr 2e-4 --warmup 200 --ema 0.999 --min-snr 5)
# The material model (--material): these maps on the material set; a new run starts from the
# default model's weights (--init-from models/default.safetensors).
material_recipe=(--maps albedo,height,roughness)

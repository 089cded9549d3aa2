# Sourced by the bundle's scripts (check.sh run, train-gpu.sh run; docs/gpu.md): what running
# from the bundle needs on a machine with a GPU driver but maybe no Vulkan loader or SDK.
# bundle_env BUNDLE_DIR
bundle_env() {
  export LD_LIBRARY_PATH="$1/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export MESA_VK_IGNORE_CONFORMANCE_WARNING=1
  unset TESSERA_VALIDATION  # the layers are not part of the bundle; CI runs the tests with them
  # Drivers installed outside the loader's search path (containers often mount NVIDIA's here).
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
    local icd
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/*.json; do
      [ -f "$icd" ] && export VK_DRIVER_FILES="$icd" && break
    done
  fi
  return 0
}

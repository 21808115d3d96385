// The `ops` namespace: the native kernels, each in its own module.
// Each op module adds its entries below.

export const ops = {
};

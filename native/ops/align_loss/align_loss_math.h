// Per-element loss and ∂loss/∂x of every classification loss in align_loss.h, shared by the CPU
// kernel (align_loss_cpu.cpp) and the CUDA kernel (align_loss_cuda_kernels.cu). No ATen: this
// header compiles under nvcc alone. A is the compute type (float or double).
//
// Stability: with e = exp(−|x|) ∈ (0, 1], l = log1p(e),
//   softplus(x)  = max(x, 0) + l  = −log(1 − p)
//   softplus(−x) = max(−x, 0) + l = −log p
//   p = σ(x) and 1 − p = σ(−x) are each formed from e without cancellation.
// Nothing overflows for any finite x, and every term stays finite at |x| = 100 in float32.
//
// Gradients (d/dx log p = 1 − p, d/dx log(1 − p) = −p, dp/dx = p(1 − p)), with q = 1 − p,
// sp = softplus(x), sn = softplus(−x), BCE(p, t) = t·sn + (1 − t)·sp, d BCE/dx = p − t:
//   negative  c·p^γ·sp                    → c·p^γ·(p + γ·q·sp)
//   Align     t·q^γ·sn + (1 − t)·p^γ·sp  → −t·q^γ·(γ·p·sn + q) + (1 − t)·p^γ·(p + γ·q·sp)
//   IaBce     BCE                         → p − t
//   Focal     α·q^γ·sn                    → −α·q^γ·(γ·p·sn + q)
//   Qfl       BCE·|d|^β                   → d·|d|^β + BCE·β·|d|^(β−1)·sgn(d)·p·q        (d = p − t)
//   Vfl       t·BCE                       → t·(p − t)                  (t > 0; t ≤ 0: the negative)
//   Stable    α·|d|^γ·BCE                 → α·[d·|d|^γ + BCE·γ·|d|^(γ−1)·sgn(d)·p·q]
//   SdAlign   the Qfl row with β = γ (makeCoeffs puts γ where Qfl has β)
// The forms use only non-negative powers of p and q, so p = 0 or q = 0 is never 0·inf.
#pragma once

#include <math.h>

#include "common/host_device.h"

namespace adetr::ops::align_math {

// Kind codes (the order of AlignLossKind in align_loss.h).
enum Kind : int { kAlign = 0, kIaBce = 1, kFocal = 2, kQfl = 3, kVfl = 4, kStableDino = 5, kSdAlign = 6 };

// SD-DETR's task alignment loss is QFL's formula with γ as its exponent, so both run one branch.
ADETR_HD bool usesQflForm(int kind) { return kind == kQfl || kind == kSdAlign; }

// Loss parameters in the compute type, with the negative-entry factor c resolved per kind.
template <typename A>
struct Coeffs {
  int kind;
  A gamma;     // γ (β for QFL; γ, the TAL exponent, for SdAlign)
  A alpha;     // α of Focal / StableDino positives
  A negScale;  // c of the negative term: 1, 1 − α, or α_v
};

// The coefficients of `kind` from the public parameters (align_loss.h's AlignLossParams).
template <typename A>
inline Coeffs<A> makeCoeffs(int kind, double gamma, double focalAlpha, double vflAlpha, double qflBeta) {
  Coeffs<A> c;
  c.kind = kind;
  c.gamma = static_cast<A>(kind == kQfl ? qflBeta : gamma);
  c.alpha = static_cast<A>(focalAlpha);
  c.negScale = A(1);
  if (kind == kFocal || kind == kStableDino) c.negScale = static_cast<A>(1.0 - focalAlpha);
  if (kind == kVfl) c.negScale = static_cast<A>(vflAlpha);
  return c;
}

ADETR_HD float mExp(float v) { return ::expf(v); }
ADETR_HD double mExp(double v) { return ::exp(v); }
ADETR_HD float mLog1p(float v) { return ::log1pf(v); }
ADETR_HD double mLog1p(double v) { return ::log1p(v); }
ADETR_HD float mPow(float b, float e) { return ::powf(b, e); }
ADETR_HD double mPow(double b, double e) { return ::pow(b, e); }
ADETR_HD float mAbs(float v) { return ::fabsf(v); }
ADETR_HD double mAbs(double v) { return ::fabs(v); }

// v^g for v ≥ 0, with the common exponents 2 and 1 exact and cheap.
template <typename A>
ADETR_HD A powExp(A v, A g) {
  if (g == A(2)) return v * v;
  if (g == A(1)) return v;
  return mPow(v, g);
}

// |d|^g and g·|d|^(g−1)·sgn(d) (the derivative of the former), 0 at d = 0 for g > 0.
template <typename A>
ADETR_HD void absPowAndSlope(A d, A g, A& value, A& slope) {
  const A a = mAbs(d);
  value = powExp(a, g);
  if (d == A(0) || g == A(0)) {
    slope = A(0);
    return;
  }
  const A s = g * powExp(a, g - A(1));
  slope = d > A(0) ? s : -s;
}

// Loss and gradient of one entry. `t` is read only for positive entries (and for QFL).
template <typename A>
ADETR_HD void elementLoss(const Coeffs<A>& c, A x, A t, bool positive, A& loss, A& grad) {
  const A e = mExp(-mAbs(x));
  const A l = mLog1p(e);
  const A inv = A(1) / (A(1) + e);
  const A p = x >= A(0) ? inv : e * inv;    // σ(x)
  const A q = x >= A(0) ? e * inv : inv;    // σ(−x) = 1 − p
  const A sp = (x > A(0) ? x : A(0)) + l;   // −log(1 − p)
  const A sn = (x < A(0) ? -x : A(0)) + l;  // −log p
  const A g = c.gamma;

  if (usesQflForm(c.kind)) {
    // One formula for all entries; negatives have t = 0.
    const A tt = positive ? t : A(0);
    const A bce = tt * sn + (A(1) - tt) * sp;
    A m, slope;
    absPowAndSlope(p - tt, g, m, slope);
    loss = bce * m;
    grad = (p - tt) * m + bce * slope * p * q;
    return;
  }
  // VFL weighs BCE by t·[t > 0] + α_v·p^γ·[t ≤ 0] (VarifocalNet; mmdetection's varifocal_loss):
  // a matched prediction whose target is 0 (IoU 0) takes the negative branch, not t·BCE = 0.
  // `!(t > 0)` also sends a NaN target there, as mmdetection's `target > 0` mask does.
  if (!positive || (c.kind == kVfl && !(t > A(0)))) {
    const A pg = powExp(p, g);
    loss = c.negScale * pg * sp;
    grad = c.negScale * pg * (p + g * q * sp);
    return;
  }
  switch (c.kind) {
    case kAlign: {
      const A pg = powExp(p, g), qg = powExp(q, g);
      loss = t * qg * sn + (A(1) - t) * pg * sp;
      grad = -t * qg * (g * p * sn + q) + (A(1) - t) * pg * (p + g * q * sp);
      return;
    }
    case kIaBce:
      loss = t * sn + (A(1) - t) * sp;
      grad = p - t;
      return;
    case kFocal: {
      const A qg = powExp(q, g);
      loss = c.alpha * qg * sn;
      grad = -c.alpha * qg * (g * p * sn + q);
      return;
    }
    case kVfl:  // t > 0 here (t ≤ 0 took the negative branch above)
      loss = t * (t * sn + (A(1) - t) * sp);
      grad = t * (p - t);
      return;
    default: {  // kStableDino
      const A bce = t * sn + (A(1) - t) * sp;
      A m, slope;
      absPowAndSlope(p - t, g, m, slope);
      loss = c.alpha * m * bce;
      grad = c.alpha * ((p - t) * m + bce * slope * p * q);
      return;
    }
  }
}

}  // namespace adetr::ops::align_math

// The fused ops' buffers as their bindings read them (naForward, naBackward, and naTune, which runs either):
// one reading, so the op and the tuned op check the same sizes.
#pragma once
#include "../kernels/common/op_args.h"
#include "op_call.h"

namespace natten::node {

/// The fused ops' inputs and output (forward and backward args share their names).
template <class Args>
Args fused_inputs(NaCall& c) {
  Args a;
  a.q = c.req("q", c.s.fused_q);
  a.k = c.req("k", c.s.fused_k);
  a.v = c.req("v", c.s.fused_v);
  a.extra_k = c.opt("additionalKeys", c.s.fused_ek, c.p.n_extra > 0);
  a.extra_v = c.opt("additionalValues", c.s.fused_ev, c.p.n_extra > 0);
  a.out = c.req("output", c.s.fused_out);
  return a;
}

/// naForward's buffers: the inputs, output and (optional) lse.
inline FusedForwardArgs forward_args(NaCall& c) {
  FusedForwardArgs a = fused_inputs<FusedForwardArgs>(c);
  a.lse = static_cast<float*>(c.maybe("lse", c.s.lse, true));
  return a;
}

/// naBackward's buffers: the forward's inputs, output and lse, dOut, and the gradients.
inline FusedBackwardArgs backward_args(NaCall& c) {
  FusedBackwardArgs a = fused_inputs<FusedBackwardArgs>(c);
  a.lse = static_cast<const float*>(c.req("lse", c.s.lse, true));
  a.d_out = c.req("dOut", c.s.fused_out);
  a.dq = c.req("dq", c.s.fused_q);
  a.dk = c.req("dk", c.s.fused_k);
  a.dv = c.req("dv", c.s.fused_v);
  a.d_extra_k = c.opt("dAdditionalKeys", c.s.fused_ek, c.p.n_extra > 0);
  a.d_extra_v = c.opt("dAdditionalValues", c.s.fused_ev, c.p.n_extra > 0);
  return a;
}

}  // namespace natten::node

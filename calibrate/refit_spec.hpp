// Option specs of `masim-profile refit` that edit a profile's fit settings.
#pragma once

#include <string>

#include "sim/profile/profile.hpp"

namespace masim::calibrate {

// --iso-bytes TABLE.ALONG=AXIS[+O]*AXIS[+O]... (iso-bytes interpolation along ALONG,
// bytes ∝ ALONG · Π (AXIS + O), sim/profile/fit.hpp) or TABLE=none (removes it).
// False, with nothing changed, when the spec does not name a table of `p`, its
// axes (ALONG not among the factors, no axis twice) or offsets >= 0.
bool set_iso_bytes(profile::Profile& p, const std::string& spec);

}  // namespace masim::calibrate

// The protocol's names that broker/ uses unqualified: one list for every file of the component.
#pragma once

#include "schemas/cpp/codec.h"

namespace titan::broker {

using wire::Datum;
using wire::ErrorCode;
using wire::Message;
using wire::MsgType;
using wire::Text;

}  // namespace titan::broker

// engine/nn/nn.h: everything of fg::nn in one include (Module, layers, convolutions, MLP, init).
#pragma once

#include "engine/nn/conv.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/mlp.h"
#include "engine/nn/module.h"

"""rnn-zoo: build, store, publish and benchmark zoos of trained recurrent networks."""

from rnn_zoo.errors import ZooError
from rnn_zoo.member.lstm import Member, MemberSpec
from rnn_zoo.zoo.load import ZooWeights, load_weights, load_zoo

__version__ = "0.1.0"

__all__ = ["Member", "MemberSpec", "ZooError", "ZooWeights", "load_weights", "load_zoo", "__version__"]

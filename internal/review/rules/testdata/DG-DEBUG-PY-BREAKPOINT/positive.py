breakpoint()
import pdb; pdb.set_trace()
    ipdb.set_trace()
